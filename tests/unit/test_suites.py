"""Suite files: loading, schema validation and the errors that point at the broken field."""

import shutil
import textwrap
from pathlib import Path

import pytest

from migration_validator.errors import SuiteInvalid, SuiteNotFound
from migration_validator.suites import RetryPolicy, lint_suites, list_suites, load_suite, resolve_variables

SUITES_DIR = Path(__file__).resolve().parents[2] / "test_suites"
SHIPPED_SUITES = ["linux-baseline", "web-app"]


@pytest.fixture
def suites_dir(tmp_path) -> Path:
    """An empty suites directory with the real schema."""
    directory = tmp_path / "suites"
    directory.mkdir()
    shutil.copy(SUITES_DIR / "suite.schema.json", directory)
    return directory


def write_suite(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", SHIPPED_SUITES)
def test_shipped_suite_loads(name):
    suite = load_suite(name, SUITES_DIR)

    assert suite.name == name
    assert suite.checks
    assert len(suite.content_hash) == 64


def test_shipped_suites_lint_clean():
    assert lint_suites(SUITES_DIR) == []


def test_shipped_suites_listed():
    assert set(SHIPPED_SUITES) <= set(list_suites(SUITES_DIR))


def test_web_app_suite_has_network_and_target_checks():
    suite = load_suite("web-app", SUITES_DIR)

    assert {check.type for check in suite.checks} == {"command", "disk", "http", "mount", "port"}


def test_web_app_suite_includes_baseline():
    assert load_suite("web-app", SUITES_DIR).includes == ("linux-baseline",)


def test_web_app_suite_contains_baseline_checks():
    baseline = {check.id for check in load_suite("linux-baseline", SUITES_DIR).checks}
    web_app = {check.id for check in load_suite("web-app", SUITES_DIR).checks}

    assert baseline <= web_app


def test_defaults_applied(suites_dir):
    write_suite(
        suites_dir,
        "minimal",
        """
        description: minimal
        checks:
          - id: uptime
            type: command
            command: cat /proc/uptime
        """,
    )

    check = load_suite("minimal", suites_dir).checks[0]

    assert check.timeout_seconds == 10
    assert check.required is True
    assert check.params["command"] == "cat /proc/uptime"


def test_params_are_read_only(suites_dir):
    write_suite(
        suites_dir,
        "minimal",
        """
        description: minimal
        checks:
          - id: page
            type: http
            expect: {status: 204}
        """,
    )
    check = load_suite("minimal", suites_dir).checks[0]

    with pytest.raises(TypeError):
        check.params["expect"]["status"] = 200


def test_content_hash_ignores_formatting(suites_dir):
    write_suite(suites_dir, "one", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "two", "# comment\ndescription: d\nchecks:\n  - type: port\n    port: 22\n    id: a\n")

    assert load_suite("one", suites_dir).content_hash == load_suite("two", suites_dir).content_hash


def test_content_hash_follows_content(suites_dir):
    write_suite(suites_dir, "one", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "two", "description: d\nchecks: [{id: a, type: port, port: 23}]\n")

    assert load_suite("one", suites_dir).content_hash != load_suite("two", suites_dir).content_hash


# Each case: suite text, then the check id and the field that SuiteInvalid must name.
BROKEN_SUITES = {
    "bad-id": (
        """
        description: d
        checks:
          - {id: Bad_ID, type: command, command: "true"}
        """,
        "Bad_ID",
        "id",
    ),
    "duplicate-ids": (
        """
        description: d
        checks:
          - {id: same, type: command, command: "true"}
          - {id: same, type: port, port: 22}
        """,
        "same",
        "id",
    ),
    "unknown-type": (
        """
        description: d
        checks:
          - {id: shell-check, type: shell, command: "true"}
        """,
        "shell-check",
        "type",
    ),
    "missing-command": (
        """
        description: d
        checks:
          - {id: no-command, type: command}
        """,
        "no-command",
        "command",
    ),
    "http-host": (
        """
        description: d
        checks:
          - {id: elsewhere, type: http, host: example.com, path: /}
        """,
        "elsewhere",
        "host",
    ),
    "timeout-zero": (
        """
        description: d
        checks:
          - {id: quick, type: command, command: "true", timeout_seconds: 0}
        """,
        "quick",
        "timeout_seconds",
    ),
    "timeout-too-long": (
        """
        description: d
        checks:
          - {id: slow, type: command, command: "true", timeout_seconds: 301}
        """,
        "slow",
        "timeout_seconds",
    ),
    "timeout-text": (
        """
        description: d
        checks:
          - {id: wordy, type: port, port: 22, timeout_seconds: ten}
        """,
        "wordy",
        "timeout_seconds",
    ),
    "bad-regex": (
        """
        description: d
        checks:
          - {id: regex, type: command, command: "true", expect: {stdout_regex: "(unclosed"}}
        """,
        "regex",
        "expect.stdout_regex",
    ),
    "unknown-expectation": (
        """
        description: d
        checks:
          - {id: exit-code, type: command, command: "true", expect: {exit_code: 0}}
        """,
        "exit-code",
        "expect.exit_code",
    ),
    "port-out-of-range": (
        """
        description: d
        checks:
          - {id: big-port, type: port, port: 70000}
        """,
        "big-port",
        "port",
    ),
    "tls-without-https": (
        """
        description: d
        checks:
          - {id: plain, type: http, scheme: http, tls: {insecure: true}}
        """,
        "plain",
        "scheme",
    ),
    "path-without-slash": (
        """
        description: d
        checks:
          - {id: relative, type: http, path: health}
        """,
        "relative",
        "path",
    ),
    "second-check-broken": (
        """
        description: d
        checks:
          - {id: fine, type: command, command: "true"}
          - {id: broken, type: command, command: "true", required: maybe}
        """,
        "broken",
        "required",
    ),
    "bad-version": (
        "description: d\nchecks: [{id: pkg, type: package, name: openssl, expect: {version: '>> 3'}}]\n",
        "pkg",
        "expect.version",
    ),
    "bad-matcher-operator": (
        "description: d\nchecks: [{id: f, type: file, path: /etc/hosts, expect: {owner: {is: root}}}]\n",
        "f",
        "expect.owner.is",
    ),
    "bad-matcher-regex": (
        "description: d\nchecks: [{id: f, type: file, path: /etc/hosts, expect: {content: {regex: '(open'}}}]\n",
        "f",
        "expect.content.regex",
    ),
    "relative-file-path": (
        "description: d\nchecks: [{id: f, type: file, path: etc/hosts}]\n",
        "f",
        "path",
    ),
    "retry-without-attempts": (
        "description: d\nchecks: [{id: c, type: command, command: 'true', retry: {interval_seconds: 1}}]\n",
        "c",
        "retry.attempts",
    ),
    "unknown-service-manager": (
        "description: d\nchecks: [{id: s, type: service, name: nginx, manager: upstart}]\n",
        "s",
        "manager",
    ),
    "ca-bundle-outside": (
        "description: d\nchecks: [{id: h, type: http, scheme: https, tls: {ca_bundle: ../../etc/ssl/cert.pem}}]\n",
        "h",
        "tls.ca_bundle",
    ),
    "disk-without-expect": (
        "description: d\nchecks: [{id: d, type: disk, path: /}]\n",
        "d",
        "expect",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_SUITES))
def test_broken_suite_names_check_and_field(suites_dir, case):
    text, check_id, field = BROKEN_SUITES[case]
    write_suite(suites_dir, case, text)

    with pytest.raises(SuiteInvalid) as raised:
        load_suite(case, suites_dir)

    error = raised.value
    assert error.file.endswith(f"{case}.yaml")
    assert error.check_id == check_id
    assert error.field == field
    assert f"check {check_id!r}" in str(error)
    assert f"field {field!r}" in str(error)


def test_missing_description_names_field(suites_dir):
    write_suite(suites_dir, "nameless", "checks: [{id: a, type: port, port: 22}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("nameless", suites_dir)

    assert raised.value.check_id is None
    assert raised.value.field == "description"


def test_check_without_id_named_by_position(suites_dir):
    write_suite(suites_dir, "anonymous", "description: d\nchecks: [{type: port, port: 22}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("anonymous", suites_dir)

    assert raised.value.check_id == "checks[0]"
    assert raised.value.field == "id"


def test_duplicate_yaml_key_rejected(suites_dir):
    write_suite(
        suites_dir,
        "twice",
        """
        description: d
        checks:
          - id: a
            type: command
            command: "true"
            command: "false"
        """,
    )

    with pytest.raises(SuiteInvalid, match="'command' twice"):
        load_suite("twice", suites_dir)


def test_invalid_yaml_rejected(suites_dir):
    write_suite(suites_dir, "garbled", "description: [unclosed\n")

    with pytest.raises(SuiteInvalid, match="not valid YAML"):
        load_suite("garbled", suites_dir)


def test_empty_file_rejected(suites_dir):
    write_suite(suites_dir, "empty", "")

    with pytest.raises(SuiteInvalid):
        load_suite("empty", suites_dir)


def test_unknown_suite_not_found(suites_dir):
    write_suite(suites_dir, "present", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")

    with pytest.raises(SuiteNotFound) as raised:
        load_suite("absent", suites_dir)

    assert "present" in str(raised.value)


@pytest.mark.parametrize("name", ["../outside", "..", "sub/inner", "/etc/passwd", "Outside", "outside.yaml", "", "-dash"])
def test_suite_name_outside_pattern_rejected(tmp_path, suites_dir, name):
    # A valid suite exists just outside the suites directory, so only the name check stops it.
    write_suite(tmp_path, "outside", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")

    with pytest.raises(SuiteNotFound):
        load_suite(name, suites_dir)


def test_lint_reports_every_broken_file(suites_dir):
    write_suite(suites_dir, "good", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "bad-port", "description: d\nchecks: [{id: a, type: port, port: 0}]\n")
    write_suite(suites_dir, "bad-type", "description: d\nchecks: [{id: b, type: ping}]\n")

    problems = lint_suites(suites_dir)

    assert sorted(Path(problem.file).name for problem in problems) == ["bad-port.yaml", "bad-type.yaml"]


def test_lint_reports_bad_file_name(suites_dir):
    write_suite(suites_dir, "Bad_Name", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")

    problems = lint_suites(suites_dir)

    assert [Path(problem.file).name for problem in problems] == ["Bad_Name.yaml"]


def test_list_ignores_other_files(suites_dir):
    write_suite(suites_dir, "real", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    (suites_dir / "notes.txt").write_text("not a suite")

    assert list_suites(suites_dir) == ["real"]


# --- includes ---------------------------------------------------------------------------------


def test_include_puts_included_checks_first(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "role", "description: d\ninclude: base\nchecks: [{id: b, type: port, port: 80}]\n")

    suite = load_suite("role", suites_dir)

    assert [check.id for check in suite.checks] == ["a", "b"]
    assert suite.checks[0].source.name == "base.yaml"
    assert suite.includes == ("base",)


def test_suite_of_includes_only(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "alias", "description: d\ninclude: [base]\n")

    assert [check.id for check in load_suite("alias", suites_dir).checks] == ["a"]


def test_shared_include_runs_once(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "web", "description: d\ninclude: base\nchecks: [{id: w, type: port, port: 80}]\n")
    write_suite(suites_dir, "db", "description: d\ninclude: base\nchecks: [{id: d, type: port, port: 5432}]\n")
    write_suite(suites_dir, "both", "description: d\ninclude: [web, db]\n")

    assert [check.id for check in load_suite("both", suites_dir).checks] == ["a", "w", "d"]


def test_include_cycle_rejected(suites_dir):
    write_suite(suites_dir, "one", "description: d\ninclude: two\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "two", "description: d\ninclude: one\nchecks: [{id: b, type: port, port: 22}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("one", suites_dir)

    assert raised.value.field == "include"
    assert "one -> two -> one" in str(raised.value)


def test_self_include_rejected(suites_dir):
    write_suite(suites_dir, "loop", "description: d\ninclude: loop\nchecks: [{id: a, type: port, port: 22}]\n")

    with pytest.raises(SuiteInvalid, match="include cycle"):
        load_suite("loop", suites_dir)


def test_missing_include_names_available(suites_dir):
    write_suite(suites_dir, "role", "description: d\ninclude: absent\nchecks: [{id: b, type: port, port: 80}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("role", suites_dir)

    assert raised.value.field == "include"
    assert "'absent'" in str(raised.value)
    assert "role" in str(raised.value)


def test_duplicate_id_across_include_names_both_files(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: same, type: port, port: 22}]\n")
    write_suite(suites_dir, "role", "description: d\ninclude: base\nchecks: [{id: same, type: port, port: 80}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("role", suites_dir)

    assert raised.value.file.endswith("role.yaml")
    assert raised.value.check_id == "same"
    assert "base.yaml" in str(raised.value)


def test_broken_include_reported_by_lint_once(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 0}]\n")
    write_suite(suites_dir, "role", "description: d\ninclude: base\nchecks: [{id: b, type: port, port: 80}]\n")

    problems = lint_suites(suites_dir)

    assert [Path(problem.file).name for problem in problems] == ["base.yaml"]


def test_content_hash_follows_included_suite(suites_dir):
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites_dir, "role", "description: d\ninclude: base\nchecks: [{id: b, type: port, port: 80}]\n")
    before = load_suite("role", suites_dir).content_hash
    write_suite(suites_dir, "base", "description: d\nchecks: [{id: a, type: port, port: 2222}]\n")

    assert load_suite("role", suites_dir).content_hash != before


# --- tag variables, secrets and retries -------------------------------------------------------


def test_tag_reference_filled_and_typed(suites_dir):
    write_suite(
        suites_dir,
        "tagged",
        """
        description: d
        secrets: [token]
        checks:
          - id: app
            type: port
            port: ${tag:app-port:-8080}
          - id: hello
            type: command
            command: echo "${tag:greeting:-hi} $${tag:literal}"
        """,
    )
    suite = load_suite("tagged", suites_dir)

    resolved, secrets = resolve_variables(
        suite, {"migration-validator:app-port": "9090", "migration-validator:token": "t0ken"}, "i-0123456789abcdef0"
    )

    assert resolved.checks[0].params["port"] == 9090
    assert resolved.checks[1].params["command"] == 'echo "hi ${tag:literal}"'
    assert secrets == ("t0ken",)


def test_tag_default_used_when_tag_missing(suites_dir):
    write_suite(suites_dir, "tagged", "description: d\nchecks: [{id: app, type: port, port: '${tag:app-port:-8080}'}]\n")

    resolved, _ = resolve_variables(load_suite("tagged", suites_dir), {}, "i-0123456789abcdef0")

    assert resolved.checks[0].params["port"] == 8080


def test_malformed_tag_reference_rejected(suites_dir):
    write_suite(suites_dir, "tagged", "description: d\nchecks: [{id: c, type: command, command: 'echo ${tag:bad name}'}]\n")

    with pytest.raises(SuiteInvalid) as raised:
        load_suite("tagged", suites_dir)

    assert raised.value.check_id == "c"
    assert raised.value.field == "command"


def test_retry_read(suites_dir):
    write_suite(suites_dir, "retrying", "description: d\nchecks: [{id: c, type: command, command: 'true', retry: {attempts: 5, interval_seconds: 2}}]\n")

    check = load_suite("retrying", suites_dir).checks[0]

    assert check.retry == RetryPolicy(5, 2.0)
    assert check.attempts == 5
