"""Suite features at run time: tag variables, secrets, retries, includes and the time budget, against a real sshd."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from migration_validator import verdicts
from migration_validator.checks import run_suite
from migration_validator.errors import SuiteInvalid
from migration_validator.suites import load_suite
from migration_validator.verdicts import CheckStatus, Verdict

from helpers import SUITES_DIR, command, make_suite, result_of

pytestmark = pytest.mark.timeout(60)


def tagged(target, **tags: str):
    return replace(target, tags={f"migration-validator:{name}": value for name, value in tags.items()})


def test_tag_variables_filled(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("greets", "echo '${tag:greeting}, ${tag:name:-world}'", expect={"stdout_contains": "hello, world"}),
        {"id": "web", "type": "port", "port": "${tag:app-port:-22}"},
    )

    run = run_suite(suite, tagged(linux_target, greeting="hello", **{"app-port": "80"}), ssh_key.private_key)

    assert run.verdict == Verdict.PASSED


def test_missing_tag_without_default_rejected(tmp_path, linux_target, ssh_key, no_connections):
    suite = make_suite(tmp_path, command("greets", "echo ${tag:greeting}"))

    with pytest.raises(SuiteInvalid) as raised:
        run_suite(suite, linux_target, ssh_key.private_key)

    assert raised.value.check_id == "greets"
    assert raised.value.field == "command"
    assert "migration-validator:greeting" in str(raised.value)


def test_tag_that_breaks_schema_rejected(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, {"id": "web", "type": "port", "port": "${tag:app-port}"})

    with pytest.raises(SuiteInvalid) as raised:
        run_suite(suite, tagged(linux_target, **{"app-port": "eighty"}), ssh_key.private_key)

    assert raised.value.field == "port"
    assert "after filling in instance tags" in str(raised.value)


def test_secret_tag_redacted(tmp_path, linux_target, ssh_key):
    directory = tmp_path / "suites"
    directory.mkdir()
    shutil.copy(SUITES_DIR / "suite.schema.json", directory)
    (directory / "secretive.yaml").write_text(
        "description: d\nsecrets: [db-password]\nchecks:\n"
        "  - id: leaks\n    type: command\n    command: echo \"password=${tag:db-password}\"; exit 1\n"
    )
    suite = load_suite("secretive", directory)

    run = run_suite(suite, tagged(linux_target, **{"db-password": "hunter2-but-longer"}), ssh_key.private_key)

    assert result_of(run, "leaks").stdout == "password=[REDACTED]\n"


def test_retry_until_pass(tmp_path, linux_target, ssh_key):
    counter = tmp_path / "attempts"
    # Passes on its third run, as a service that needs a moment to start would.
    text = f"n=$(cat '{counter}' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '{counter}'; [ $n -ge 3 ]"
    suite = make_suite(
        tmp_path,
        command("starts-late", text, retry={"attempts": 4, "interval_seconds": 0.1}),
        command("passes", "true"),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "starts-late").status == CheckStatus.PASSED
    assert result_of(run, "starts-late").attempts == 3
    assert result_of(run, "passes").attempts == 1
    assert counter.read_text().strip() == "3"


def test_retry_gives_up(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("never", "exit 1", retry={"attempts": 2, "interval_seconds": 0.1}),
        {"id": "closed", "type": "port", "port": 9, "timeout_seconds": 1, "retry": {"attempts": 2, "interval_seconds": 0.1}},
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "never").reason == verdicts.EXIT_STATUS
    assert result_of(run, "never").attempts == 2
    assert result_of(run, "closed").attempts == 2


def test_time_budget_rejects_before_connecting(tmp_path, linux_target, ssh_key, no_connections):
    suite = make_suite(tmp_path, command("slow", "sleep 1", timeout_seconds=200))

    with pytest.raises(SuiteInvalid) as raised:
        run_suite(suite, linux_target, ssh_key.private_key, time_limit_seconds=180)

    assert "more than the time limit of 180 s" in str(raised.value)


def test_included_checks_run_first(tmp_path, linux_target, ssh_key):
    directory = tmp_path / "suites"
    directory.mkdir()
    shutil.copy(SUITES_DIR / "suite.schema.json", directory)
    (directory / "base.yaml").write_text("description: d\nchecks: [{id: base-check, type: command, command: 'true'}]\n")
    (directory / "role.yaml").write_text("description: d\ninclude: [base]\nchecks: [{id: role-check, type: command, command: 'true'}]\n")

    run = run_suite(load_suite("role", directory), linux_target, ssh_key.private_key)

    assert [check.check_id for check in run.checks] == ["base-check", "role-check"]
    assert run.verdict == Verdict.PASSED
