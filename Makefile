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

.PHONY: demo test lint bench sshd clean

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

demo: $(VENV)/.installed sshd
	$(VENV)/bin/migration-validator demo

lint: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/sam validate --lint --template template.yaml

test: $(VENV)/.installed sshd lint
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; echo $$status > .pytest-exit; exit $$status

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .pytest-exit .pytest_cache
