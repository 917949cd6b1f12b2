# Every target runs on the local stack only: fixed dummy credentials, a fixed region and no
# instance metadata lookups, so nothing here can reach a real AWS account.
export AWS_DEFAULT_REGION := us-east-1
export AWS_REGION := us-east-1
export AWS_ACCESS_KEY_ID := testing
export AWS_SECRET_ACCESS_KEY := testing
export AWS_SESSION_TOKEN := testing
export AWS_EC2_METADATA_DISABLED := true
export SAM_CLI_TELEMETRY := 0
unexport AWS_PROFILE

PYTHON ?= python3
VENV := .venv
TOOLS_VENV := .venv-tools
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: demo test lint bench sshd target-tools chaos checks clean

# Python packages for the command-line tool, the local stack and the tests.
$(VENV)/.installed: pyproject.toml functions/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r functions/requirements.txt -e '.[test]'
	touch $@

# AWS SAM CLI and cfn-lint pin versions of boto3 and the SAM translator that differ from moto's,
# so they live in a virtual environment of their own.
$(TOOLS_VENV)/.installed:
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0 cfn-lint==1.58.0
	touch $@

# The real OpenSSH server that the demo and the end-to-end tests run on loopback.
sshd:
	@[ -x /usr/sbin/sshd ] || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server openssh-client; }

# What the package and listening checks read on the test target: rpm (with rpmbuild, for a
# fixture package) beside dpkg, and ss and netstat, whose fallbacks the tests exercise.
target-tools:
	@command -v rpmbuild >/dev/null && command -v ss >/dev/null && command -v netstat >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rpm iproute2 net-tools; }

# pytest-testinfra, which only the benchmark (and its test) compares against.
$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

# The engine against pytest-testinfra, one ssh per check and the one-exec floor; see bench/README.md.
bench: $(VENV)/.bench-installed sshd
	$(PY) bench/compare.py

demo: $(VENV)/.installed sshd
	$(VENV)/bin/migration-validator demo

lint: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/sam validate --lint --template template.yaml

# checkov and the serverless rules for cfn-lint pin other versions than the SAM CLI does.
CHECKS_VENV := .venv-checks
$(CHECKS_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKS_VENV)
	$(CHECKS_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKS_VENV)/bin/pip install --quiet checkov==3.3.30 cfn-lint-serverless==0.3.6
	touch $@

# Static checks of template.yaml, offline: cfn-lint with the serverless rules, and checkov with
# no download of external checks and no platform upload. Suppressions carry their reason in the
# template's Metadata.
checks: $(CHECKS_VENV)/.installed
	$(CHECKS_VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKS_VENV)/bin/checkov --quiet --compact --config-file .checkov.yaml --file template.yaml

# 200 launches under injected faults; the last line counts records and notifications per launch.
chaos: $(VENV)/.installed sshd
	$(VENV)/bin/migration-validator local chaos --launches 200

test: $(VENV)/.installed $(VENV)/.bench-installed sshd target-tools lint checks
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; echo $$status > .pytest-exit; exit $$status

clean:
	rm -rf $(VENV) $(TOOLS_VENV) $(CHECKS_VENV) .pytest-exit .pytest_cache build
