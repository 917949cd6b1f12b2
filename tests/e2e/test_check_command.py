"""`migration-validator check` and `suites lint` against a real sshd and HTTP server on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from migration_validator_cli.main import main

from helpers import SUITES_DIR

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def key_file(tmp_path, ssh_key) -> Path:
    path = tmp_path / "id_ed25519"
    path.write_text(ssh_key.private_key)
    path.chmod(0o600)
    return path


@pytest.fixture
def known_hosts(tmp_path, linux_host) -> Path:
    public = Path(f"{linux_host.sshd.host_key_path}.pub").read_text().split()
    path = tmp_path / "known_hosts"
    path.write_text(f"# written by a test\n{linux_host.address} {public[0]} {public[1]}\n")
    return path


def check_args(linux_host, key_file: Path, *extra: str, suite: str = "web-app") -> list[str]:
    return ["check", "--suite", suite, "--host", linux_host.address, "--user", linux_host.sshd.user, "--key", str(key_file), *extra]


def write_suite(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    shutil.copy(SUITES_DIR / "suite.schema.json", directory)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_check_passes_with_known_hosts(linux_host, key_file, known_hosts, capsys):
    status = main(check_args(linux_host, key_file, "--known-hosts", str(known_hosts)))

    output = capsys.readouterr().out
    assert status == 0
    assert "verdict: PASSED" in output
    assert "home-page" in output
    assert linux_host.sshd.host_key_fingerprint in output


def test_check_hashed_known_hosts_entry(tmp_path, linux_host, key_file, capsys):
    salt = os.urandom(20)
    digest = hmac.new(salt, linux_host.address.encode(), hashlib.sha1).digest()
    public = Path(f"{linux_host.sshd.host_key_path}.pub").read_text().split()
    hashed = tmp_path / "hashed_known_hosts"
    hashed.write_text(f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()} {public[0]} {public[1]}\n")

    status = main(check_args(linux_host, key_file, "--known-hosts", str(hashed)))

    assert status == 0


def test_check_host_key_mismatch_fails(linux_host, key_file, capsys):
    wrong = "SHA256:" + "A" * 43

    status = main(check_args(linux_host, key_file, "--host-key", wrong))

    output = capsys.readouterr().out
    assert status == 1
    assert "HOST_KEY_MISMATCH" in output
    assert wrong in output
    assert linux_host.sshd.host_key_fingerprint in output


def test_check_failing_suite_exits_one(tmp_path, linux_host, key_file, capsys):
    suites = tmp_path / "suites"
    write_suite(suites, "strict", "description: d\nchecks:\n  - {id: missing-page, type: http, path: /missing}\n")

    status = main(check_args(linux_host, key_file, "--trust-on-first-use", "--suites-dir", str(suites), suite="strict"))

    output = capsys.readouterr().out
    assert status == 1
    assert "FAILED   missing-page" in output
    assert "status 404, expected 200" in output


def test_check_unreachable_exits_two(linux_host, key_file, capsys):
    status = main(check_args(linux_host, key_file, "--trust-on-first-use", "--port", "2"))

    assert status == 2
    assert "CONNECTION_REFUSED" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["169.254.169.254", "fe80::1", "0.0.0.0"])
def test_check_forbidden_host_exits_three(linux_host, key_file, host, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args}")

    monkeypatch.setattr("socket.socket.connect", refuse)
    monkeypatch.setattr("socket.create_connection", refuse)

    status = main(["check", "--suite", "web-app", "--host", host, "--key", str(key_file), "--trust-on-first-use"])

    assert status == 3
    assert "rejected" in capsys.readouterr().err


def test_check_unknown_host_in_known_hosts_exits_three(tmp_path, linux_host, key_file, capsys):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")

    status = main(check_args(linux_host, key_file, "--known-hosts", str(empty)))

    assert status == 3
    assert "has no key for" in capsys.readouterr().err


def test_check_invalid_suite_exits_78(tmp_path, linux_host, key_file, capsys):
    suites = tmp_path / "suites"
    write_suite(suites, "broken", "description: d\nchecks:\n  - {id: bad, type: port, port: 0}\n")

    status = main(check_args(linux_host, key_file, "--trust-on-first-use", "--suites-dir", str(suites), suite="broken"))

    error = capsys.readouterr().err
    assert status == 78
    assert "broken.yaml" in error
    assert "check 'bad'" in error
    assert "field 'port'" in error


def test_check_json_output_file(tmp_path, linux_host, key_file):
    output = tmp_path / "result.json"

    status = main(check_args(linux_host, key_file, "--trust-on-first-use", "--format", "json", "--output", str(output)))

    document = json.loads(output.read_text())
    assert status == 0
    assert document["verdict"] == "PASSED"
    assert document["host_key_trusted_on_first_use"] is True
    assert {check["check_id"] for check in document["checks"]} >= {"sshd-running", "home-page"}
    assert all({"status", "reason", "duration_ms", "message"} <= set(check) for check in document["checks"])


def test_check_junit_output(tmp_path, linux_host, key_file, capsys):
    suites = tmp_path / "suites"
    write_suite(
        suites,
        "mixed",
        "description: d\nchecks:\n"
        "  - {id: passes, type: command, command: 'true'}\n"
        "  - {id: fails, type: command, command: 'exit 2'}\n"
        "  - {id: warns, type: command, command: 'exit 1', required: false}\n",
    )

    status = main(check_args(linux_host, key_file, "--trust-on-first-use", "--suites-dir", str(suites), "--format", "junit", suite="mixed"))

    root = ElementTree.fromstring(capsys.readouterr().out)
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert status == 1
    assert root.find("testsuite").get("failures") == "1"
    assert cases["fails"].find("failure").get("type") == "EXIT_STATUS"
    assert cases["passes"].find("failure") is None
    assert cases["warns"].find("failure") is None


def test_check_fills_tags(tmp_path, linux_host, key_file, capsys):
    suites = tmp_path / "suites"
    write_suite(
        suites,
        "tagged",
        "description: d\nsecrets: [token]\nchecks:\n"
        "  - id: greets\n    type: command\n    command: echo \"${tag:greeting} ${tag:token}\"\n"
        "    expect: {stdout_contains: hello}\n",
    )

    status = main(
        check_args(
            linux_host, key_file, "--trust-on-first-use", "--suites-dir", str(suites), "--format", "json",
            "--tag", "greeting=hello", "--tag", "token=s3cr3t-value", suite="tagged",
        )
    )

    output = capsys.readouterr().out
    assert status == 0
    assert "s3cr3t-value" not in output
    assert "hello [REDACTED]" in output


# --- suites lint ----------------------------------------------------------------------------


def test_lint_shipped_suites_clean(capsys):
    status = main(["suites", "lint", str(SUITES_DIR)])

    assert status == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_lint_reports_broken_suite(tmp_path, capsys):
    suites = tmp_path / "suites"
    write_suite(suites, "good", "description: d\nchecks: [{id: a, type: port, port: 22}]\n")
    write_suite(suites, "bad", "description: d\nchecks: [{id: a, type: file, path: relative/path}]\n")

    status = main(["suites", "lint", str(suites)])

    output = capsys.readouterr().out
    assert status == 78
    assert "bad.yaml, check 'a', field 'path'" in output
    assert "good.yaml" not in output


def test_lint_rejects_suite_over_time_limit(tmp_path, capsys):
    suites = tmp_path / "suites"
    write_suite(
        suites,
        "slow",
        "description: d\nchecks:\n"
        "  - {id: waits, type: command, command: 'true', timeout_seconds: 100, retry: {attempts: 3, interval_seconds: 10}}\n",
    )

    status = main(["suites", "lint", str(suites), "--time-limit", "180"])

    output = capsys.readouterr().out
    assert status == 78
    assert "more than the time limit of 180 s" in output
    assert "'waits'" in output
