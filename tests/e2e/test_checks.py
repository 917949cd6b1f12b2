"""The check engine against a real OpenSSH sshd and real HTTP servers on loopback addresses."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from migration_validator import verdicts
from migration_validator.checks import RunSettings, SshTimeouts, run_suite
from migration_validator.errors import TargetNotReady, TargetRejected
from migration_validator.suites import Suite, load_suite
from migration_validator.verdicts import CheckStatus, Verdict
from migration_validator_cli.local.targets import free_loopback_address, generate_ssh_key, start_sshd

from helpers import SUITES_DIR, command, make_suite, result_of, trickling_listener

FAST = RunSettings(ssh=SshTimeouts(connect=2, banner=1, handshake=2, auth=2, channel_open=2))

pytestmark = pytest.mark.timeout(60)


# --- suites that pass ---------------------------------------------------------------------


def test_web_app_suite_passes(linux_target, ssh_key):
    run = run_suite(load_suite("web-app", SUITES_DIR), linux_target, ssh_key.private_key)

    failed = {check.check_id: check.message for check in run.checks if check.status == CheckStatus.FAILED}
    assert failed == {}
    assert run.verdict == Verdict.PASSED
    assert run.reason == verdicts.ALL_REQUIRED_PASSED


def test_web_app_suite_records_host_key(linux_host, ssh_key):
    run = run_suite(load_suite("web-app", SUITES_DIR), linux_host.target, ssh_key.private_key)

    assert run.host_key_fingerprint == linux_host.sshd.host_key_fingerprint
    assert run.host_key_trusted_on_first_use is False


def test_linux_baseline_suite_passes(linux_target, ssh_key):
    run = run_suite(load_suite("linux-baseline", SUITES_DIR), linux_target, ssh_key.private_key)

    assert run.verdict == Verdict.PASSED


def test_suite_run_opens_one_ssh_connection(tmp_path, linux_host, ssh_key):
    suite = make_suite(tmp_path, *(command(f"quick-{index}", f"echo {index}") for index in range(25)))
    log = linux_host.sshd.log_path
    before = log.read_text().count("Accepted publickey")

    run = run_suite(suite, linux_host.target, ssh_key.private_key)

    assert run.verdict == Verdict.PASSED
    assert log.read_text().count("Accepted publickey") == before + 1


def test_results_keep_suite_order(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        {"id": "web", "type": "http", "path": "/health"},
        command("first-command", "true"),
        {"id": "ssh-port", "type": "port", "port": 22},
        command("second-command", "true"),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert [check.check_id for check in run.checks] == ["web", "first-command", "ssh-port", "second-command"]


# --- command checks -----------------------------------------------------------------------


def test_failing_command_fails_suite(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("passes", "true"), command("exits-three", "exit 3"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert run.verdict == Verdict.FAILED
    assert run.reason == verdicts.EXIT_STATUS
    assert run.failed_check_ids == ["exits-three"]
    assert result_of(run, "exits-three").message == "exit status 3, expected 0"


def test_expected_nonzero_exit_status(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("absent-file", "test -e /nonexistent/file", expect={"exit_status": 1}))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert run.verdict == Verdict.PASSED


def test_stdout_contains_and_regex_match(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("contains", "echo 'service: active'", expect={"stdout_contains": "active"}),
        command("regex", "printf 'first\\nversion 2.4.1\\n'", expect={"stdout_regex": "^version [0-9]+\\.[0-9]+"}),
        command("stderr", "echo 'warning: low disk' >&2", expect={"stderr_contains": "low disk"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert {check.check_id: check.status for check in run.checks} == {
        "contains": CheckStatus.PASSED,
        "regex": CheckStatus.PASSED,
        "stderr": CheckStatus.PASSED,
    }


def test_stdout_mismatch_reported(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("contains", "echo inactive", expect={"stdout_contains": "running"}),
        command("regex", "echo version 1", expect={"stdout_regex": "^version 2"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "contains").reason == verdicts.OUTPUT_MISMATCH
    assert result_of(run, "contains").message == "stdout does not contain 'running'"
    assert result_of(run, "regex").reason == verdicts.OUTPUT_MISMATCH
    assert result_of(run, "contains").stdout == "inactive\n"


def test_huge_output_capped(tmp_path, linux_target, ssh_key):
    five_mb = "head -c 5000000 /dev/zero | tr '\\0' x"
    suite = make_suite(tmp_path, command("loud", f"{five_mb}; {five_mb} >&2"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    loud = result_of(run, "loud")
    assert loud.status == CheckStatus.PASSED
    assert loud.capped is True
    assert loud.stdout == "x" * 4096
    assert loud.stderr == "x" * 4096
    assert "stdout 5000000 bytes, stderr 5000000 bytes" in loud.message


def test_output_at_cap_not_capped(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("exact", "head -c 4096 /dev/zero | tr '\\0' y"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "exact").capped is False
    assert result_of(run, "exact").stdout == "y" * 4096


def test_match_past_cap_is_output_capped(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("late-needle", "head -c 10000 /dev/zero | tr '\\0' a; echo needle", expect={"stdout_contains": "needle"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "late-needle").status == CheckStatus.FAILED
    assert result_of(run, "late-needle").reason == verdicts.OUTPUT_CAPPED


def test_binary_output_survives_framing(tmp_path, linux_target, ssh_key):
    # Output that looks like the runner's own record lines must not confuse the parser.
    suite = make_suite(
        tmp_path,
        command("binary", "printf 'a\\000b\\nresult 0 0 0 0 5 5 5 5\\n'", expect={"stdout_contains": "result"}),
        command("after", "echo still-parsed", expect={"stdout_contains": "still-parsed"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "binary").stdout == "a\x00b\nresult 0 0 0 0 5 5 5 5\n"
    assert result_of(run, "after").status == CheckStatus.PASSED


def test_sleeping_command_times_out(tmp_path, linux_target, ssh_key):
    suite = make_suite(
        tmp_path,
        command("sleeps", "sleep 600", timeout_seconds=1),
        command("quick", "echo done", expect={"stdout_contains": "done"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "sleeps").status == CheckStatus.FAILED
    assert result_of(run, "sleeps").reason == verdicts.TIMEOUT
    assert result_of(run, "quick").status == CheckStatus.PASSED


def test_command_ignoring_sigterm_killed(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("stubborn", "trap '' TERM; while :; do sleep 1; done", timeout_seconds=1))

    run = run_suite(suite, linux_target, ssh_key.private_key, settings=replace(FAST, kill_after_seconds=0.5))

    assert result_of(run, "stubborn").reason == verdicts.TIMEOUT
    assert "SIGKILL" in result_of(run, "stubborn").message


def test_own_exit_124_is_not_timeout(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("exits-124", "exit 124"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "exits-124").reason == verdicts.EXIT_STATUS


def test_background_process_does_not_hold_check(tmp_path, linux_target, ssh_key):
    # The check's process group is killed when its shell exits, so the output pipe closes.
    suite = make_suite(tmp_path, command("leaves-child", "sleep 600 & echo started", timeout_seconds=30))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "leaves-child").status == CheckStatus.PASSED


def test_run_deadline_ends_stuck_runner(tmp_path, linux_target, ssh_key):
    # The check stops its timeout(1) process with SIGSTOP, so the runner waits for it without end.
    # A helper resumes it after 4 s, so nothing is left behind. The run's deadline comes first:
    # two waves of (0.5 s timeout + 0.2 s kill delay + 0.2 s overhead), plus a 0.2 s margin, is 2 s.
    stuck = "(sleep 4; kill -CONT $PPID) & kill -STOP $PPID; echo stopped"
    suite = make_suite(
        tmp_path,
        command("first-wave", "echo finished", expect={"stdout_contains": "finished"}, timeout_seconds=0.5),
        command("stuck", stuck, timeout_seconds=0.5),
    )
    settings = replace(
        FAST, max_parallel_commands=1, kill_after_seconds=0.2, wave_overhead_seconds=0.2, deadline_margin_seconds=0.2
    )

    run = run_suite(suite, linux_target, ssh_key.private_key, settings=settings)

    assert result_of(run, "first-wave").status == CheckStatus.PASSED
    assert result_of(run, "stuck").reason == verdicts.TIMEOUT
    assert "time limit" in result_of(run, "stuck").message


def test_escaped_child_does_not_hold_check(tmp_path, linux_target, ssh_key):
    # setsid moves the child out of the check's process group, so the group kill misses it.
    # The check's output goes to a file, not a pipe, so the child's open file does not hold the run.
    escape = (
        "setsid sleep 3 & child=$!; "
        "while [ \"$(cut -d' ' -f6 /proc/$child/stat)\" != \"$child\" ]; do sleep 0.01; done; echo started"
    )
    suite = make_suite(tmp_path, command("escapes", escape, expect={"stdout_contains": "started"}, timeout_seconds=2))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "escapes").status == CheckStatus.PASSED


def test_commands_run_in_waves(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, *(command(f"wave-{index}", f"echo {index}", expect={"stdout_contains": str(index)}) for index in range(23)))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert run.verdict == Verdict.PASSED
    assert len(run.checks) == 23


def test_optional_check_failure_is_warning(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("optional", "exit 1", required=False), command("needed", "true"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "optional").status == CheckStatus.WARNING
    assert run.verdict == Verdict.PASSED


def test_quotes_in_command_preserved(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("quotes", "printf '%s\\n' \"it's\" '$HOME'", expect={"stdout_contains": "it's\n$HOME"}))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "quotes").status == CheckStatus.PASSED


def test_secrets_redacted(tmp_path, linux_target, ssh_key):
    secret = "s3cr3t-token-value"
    suite = make_suite(
        tmp_path,
        command("leaky", f"echo token={secret}; echo {secret} >&2", expect={"stdout_contains": "nothing"}),
    )

    run = run_suite(suite, linux_target, ssh_key.private_key, secrets=(secret,))

    leaky = result_of(run, "leaky")
    assert leaky.stdout == "token=[REDACTED]\n"
    assert leaky.stderr == "[REDACTED]\n"


def test_secret_cut_at_cap_redacted(tmp_path, linux_target, ssh_key):
    secret = "abcdefghijklmnopqrstuvwxyz"
    # A longer secret that starts with "j", the last captured character, must not win over the longer match.
    decoy = "j" + "0" * 40
    # The secret starts 10 bytes before the 4096-byte cap, so only its first 10 characters are captured.
    suite = make_suite(tmp_path, command("cut", f"head -c 4086 /dev/zero | tr '\\0' '.'; echo {secret}"))

    run = run_suite(suite, linux_target, ssh_key.private_key, secrets=(secret, decoy))

    assert result_of(run, "cut").stdout.endswith(".[REDACTED]")


def test_private_key_redacted(tmp_path, linux_target, ssh_key):
    key_line = ssh_key.private_key.splitlines()[1]
    suite = make_suite(tmp_path, command("prints-key", f"echo '{key_line}'"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert key_line not in result_of(run, "prints-key").stdout
    assert "[REDACTED]" in result_of(run, "prints-key").stdout


# --- host keys ----------------------------------------------------------------------------


def marker_suite(tmp_path: Path) -> tuple[Suite, Path]:
    marker = tmp_path / "command-ran"
    return make_suite(tmp_path, command("creates-marker", f"touch '{marker}'")), marker


def test_wrong_host_key_runs_nothing(tmp_path, linux_host, ssh_key):
    suite, marker = marker_suite(tmp_path)
    wrong = "SHA256:" + "A" * 43
    target = replace(linux_host.target, expected_host_key=wrong)

    run = run_suite(suite, target, ssh_key.private_key)

    assert run.verdict == Verdict.FAILED
    assert run.reason == verdicts.HOST_KEY_MISMATCH
    assert not marker.exists()


def test_host_key_mismatch_names_both_fingerprints(tmp_path, linux_host, ssh_key):
    suite, _ = marker_suite(tmp_path)
    wrong = "SHA256:" + "A" * 43
    target = replace(linux_host.target, expected_host_key=wrong)

    run = run_suite(suite, target, ssh_key.private_key)

    message = result_of(run, "creates-marker").message
    assert wrong in message
    assert linux_host.sshd.host_key_fingerprint in message
    assert run.host_key_fingerprint == linux_host.sshd.host_key_fingerprint


def test_mismatch_fails_even_optional_checks(tmp_path, linux_host, ssh_key):
    suite = make_suite(tmp_path, command("optional", "true", required=False))
    target = replace(linux_host.target, expected_host_key="SHA256:" + "B" * 43)

    run = run_suite(suite, target, ssh_key.private_key)

    assert run.verdict == Verdict.FAILED


def test_any_listed_host_key_accepted(tmp_path, linux_host, ssh_key):
    suite = make_suite(tmp_path, command("runs", "true"))
    listed = f"SHA256:{'C' * 43} {linux_host.sshd.host_key_fingerprint}"
    target = replace(linux_host.target, expected_host_key=listed)

    run = run_suite(suite, target, ssh_key.private_key)

    assert run.verdict == Verdict.PASSED


def test_unknown_host_key_without_tofu(tmp_path, linux_host, ssh_key):
    suite, marker = marker_suite(tmp_path)
    target = replace(linux_host.target, expected_host_key=None)

    run = run_suite(suite, target, ssh_key.private_key)

    assert run.verdict == Verdict.FAILED
    assert run.reason == verdicts.HOST_KEY_UNKNOWN
    assert "migration-validator:host-key" in result_of(run, "creates-marker").message
    assert not marker.exists()


def test_unknown_host_key_trusted_on_first_use(tmp_path, linux_host, ssh_key):
    suite, marker = marker_suite(tmp_path)
    target = replace(linux_host.target, expected_host_key=None)

    run = run_suite(suite, target, ssh_key.private_key, trust_on_first_use=True)

    assert run.verdict == Verdict.PASSED
    assert run.host_key_trusted_on_first_use is True
    assert run.host_key_fingerprint == linux_host.sshd.host_key_fingerprint
    assert marker.exists()


# --- connection problems ------------------------------------------------------------------


def test_wrong_client_key_auth_failed(tmp_path, linux_target):
    suite = make_suite(tmp_path, command("runs", "true"))
    other_key = generate_ssh_key()

    with pytest.raises(TargetNotReady) as raised:
        run_suite(suite, linux_target, other_key.private_key, settings=FAST)

    assert raised.value.reason == verdicts.AUTH_FAILED
    assert raised.value.instance_id == linux_target.instance_id


def test_wrong_user_auth_failed(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("runs", "true"))
    target = replace(linux_target, ssh_user="nobody")

    with pytest.raises(TargetNotReady) as raised:
        run_suite(suite, target, ssh_key.private_key, settings=FAST)

    assert raised.value.reason == verdicts.AUTH_FAILED


def test_nothing_listening_connection_refused(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("runs", "true"))
    target = replace(linux_target, address=free_loopback_address())

    with pytest.raises(TargetNotReady) as raised:
        run_suite(suite, target, ssh_key.private_key, settings=FAST)

    assert raised.value.reason == verdicts.CONNECTION_REFUSED


@pytest.fixture
def silent_listener():
    """A loopback address whose port 22 accepts TCP connections and never sends anything."""
    address = free_loopback_address(ports=(22,))
    server = socket.create_server((address, 22))
    server.settimeout(0.1)
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept_forever() -> None:
        while not stopping.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    yield address
    stopping.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    server.close()


def test_silent_listener_no_ssh_banner(tmp_path, linux_target, ssh_key, silent_listener):
    suite = make_suite(tmp_path, command("runs", "true"))
    target = replace(linux_target, address=silent_listener)

    with pytest.raises(TargetNotReady) as raised:
        run_suite(suite, target, ssh_key.private_key, settings=FAST)

    assert raised.value.reason == verdicts.NO_SSH_BANNER


def test_http_server_on_ssh_port_no_ssh_banner(tmp_path, linux_host, ssh_key):
    suite = make_suite(tmp_path, command("runs", "true"))
    target = replace(linux_host.target, ssh_port=linux_host.http.port)

    with pytest.raises(TargetNotReady) as raised:
        run_suite(suite, target, ssh_key.private_key, settings=FAST)

    assert raised.value.reason == verdicts.NO_SSH_BANNER


# --- forbidden addresses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fd00:ec2::254", "169.254.10.1", "fe80::1", "224.0.0.1", "0.0.0.0", "255.255.255.255", "::ffff:169.254.169.254", "metadata.local"],
)
def test_forbidden_address_rejected_before_connecting(tmp_path, linux_target, ssh_key, no_connections, address):
    suite = make_suite(
        tmp_path,
        command("runs", "true"),
        {"id": "page", "type": "http"},
        {"id": "port", "type": "port", "port": 80},
    )

    with pytest.raises(TargetRejected):
        run_suite(suite, replace(linux_target, address=address), ssh_key.private_key)


def test_forbidden_address_rejected_without_ssh(tmp_path, linux_target, no_connections):
    suite = make_suite(tmp_path, {"id": "page", "type": "http"})

    with pytest.raises(TargetRejected):
        run_suite(suite, replace(linux_target, address="169.254.169.254"), None)


# --- http and port checks -----------------------------------------------------------------


def test_network_checks_need_no_key(tmp_path, linux_target):
    suite = make_suite(tmp_path, {"id": "page", "type": "http", "path": "/"}, {"id": "ssh-port", "type": "port", "port": 22})

    run = run_suite(suite, linux_target, None)

    assert run.verdict == Verdict.PASSED
    assert run.host_key_fingerprint is None


def test_command_checks_need_key(tmp_path, linux_target):
    suite = make_suite(tmp_path, command("runs", "true"))

    with pytest.raises(ValueError, match="private key"):
        run_suite(suite, linux_target, None)


def test_http_status_mismatch(tmp_path, linux_target):
    suite = make_suite(tmp_path, {"id": "missing-page", "type": "http", "path": "/missing", "expect": {"status": 200}})

    run = run_suite(suite, linux_target, None)

    page = result_of(run, "missing-page")
    assert page.status == CheckStatus.FAILED
    assert page.reason == verdicts.HTTP_STATUS
    assert "status 404, expected 200" in page.message


def test_http_body_checks(tmp_path, linux_target):
    suite = make_suite(
        tmp_path,
        {"id": "contains", "type": "http", "expect": {"body_contains": "migration demo"}},
        {"id": "regex", "type": "http", "expect": {"body_regex": "<h1>[A-Z][a-z]+</h1>"}},
        {"id": "absent", "type": "http", "expect": {"body_contains": "maintenance"}},
    )

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "contains").status == CheckStatus.PASSED
    assert result_of(run, "regex").status == CheckStatus.PASSED
    assert result_of(run, "absent").reason == verdicts.BODY_MISMATCH


def test_http_response_header_checked(tmp_path, linux_target):
    suite = make_suite(
        tmp_path,
        {"id": "html", "type": "http", "expect": {"headers": {"content-type": "text/html"}}},
        {"id": "json", "type": "http", "expect": {"headers": {"Content-Type": "application/json"}}},
    )

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "html").status == CheckStatus.PASSED
    assert result_of(run, "json").reason == verdicts.HEADER_MISMATCH


def test_http_connection_refused(tmp_path, linux_target):
    suite = make_suite(tmp_path, {"id": "no-server", "type": "http", "port": 81})

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "no-server").reason == verdicts.CONNECTION_REFUSED


def test_port_closed(tmp_path, linux_target):
    suite = make_suite(tmp_path, {"id": "app-port", "type": "port", "port": 8080, "timeout_seconds": 2})

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "app-port").status == CheckStatus.FAILED
    assert result_of(run, "app-port").reason == verdicts.CONNECTION_REFUSED


def test_port_expected_closed(tmp_path, linux_target):
    suite = make_suite(
        tmp_path,
        {"id": "telnet-off", "type": "port", "port": 23, "expect": {"open": False}},
        {"id": "web-off", "type": "port", "port": 80, "expect": {"open": False}},
    )

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "telnet-off").status == CheckStatus.PASSED
    assert result_of(run, "web-off").status == CheckStatus.FAILED


@pytest.fixture
def trickling_server(linux_host):
    """A server on the target's address that sends headers, then one body byte every 0.1 s for up to 20 s."""
    with trickling_listener(linux_host.address, b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n") as port:
        yield port


def test_trickling_body_ends_at_deadline(tmp_path, linux_target, trickling_server):
    suite = make_suite(tmp_path, {"id": "slow-body", "type": "http", "port": trickling_server, "timeout_seconds": 1})

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "slow-body").reason == verdicts.TIMEOUT


@pytest.fixture
def https_port(https_server):
    return https_server[0]


def test_self_signed_certificate_tls_invalid(tmp_path, linux_target, https_port):
    suite = make_suite(tmp_path, {"id": "tls", "type": "http", "scheme": "https", "port": https_port})

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "tls").reason == verdicts.TLS_INVALID


def test_insecure_tls_accepts_self_signed(tmp_path, linux_target, https_port):
    suite = make_suite(
        tmp_path,
        {"id": "tls", "type": "http", "scheme": "https", "port": https_port, "tls": {"insecure": True}, "expect": {"body_contains": "secure"}},
    )

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "tls").status == CheckStatus.PASSED


def test_https_to_plain_http_tls_invalid(tmp_path, linux_target):
    suite = make_suite(tmp_path, {"id": "tls", "type": "http", "scheme": "https", "port": 80})

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "tls").reason == verdicts.TLS_INVALID


# --- private key formats ------------------------------------------------------------------


def _key_in_format(kind: str) -> tuple[str, str]:
    """Return (private key text, authorized_keys line) for one key type and file format."""
    if kind == "rsa-pkcs1-pem":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_format = serialization.PrivateFormat.TraditionalOpenSSL
    elif kind == "ecdsa-pkcs8-pem":
        key = ec.generate_private_key(ec.SECP256R1())
        private_format = serialization.PrivateFormat.PKCS8
    else:
        key = ec.generate_private_key(ec.SECP384R1())
        private_format = serialization.PrivateFormat.OpenSSH
    private_text = key.private_bytes(serialization.Encoding.PEM, private_format, serialization.NoEncryption()).decode()
    public_line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return private_text, public_line


@pytest.fixture(scope="module")
def multi_key_host(tmp_path_factory, linux_target):
    """A second sshd that authorizes one key of each tested format."""
    keys = {kind: _key_in_format(kind) for kind in ("rsa-pkcs1-pem", "ecdsa-pkcs8-pem", "ecdsa-openssh")}
    address = free_loopback_address(ports=(22,))
    authorized = "\n".join(public for _, public in keys.values())
    with start_sshd(address, 22, authorized, tmp_path_factory.mktemp("multi-key")) as sshd:
        target = replace(linux_target, address=address, expected_host_key=sshd.host_key_fingerprint)
        yield target, {kind: private for kind, (private, _) in keys.items()}


@pytest.mark.parametrize("kind", ["rsa-pkcs1-pem", "ecdsa-pkcs8-pem", "ecdsa-openssh"])
def test_private_key_formats_accepted(tmp_path, multi_key_host, kind):
    target, private_keys = multi_key_host
    suite = make_suite(tmp_path, command("runs", "true"))

    run = run_suite(suite, target, private_keys[kind])

    assert run.verdict == Verdict.PASSED


def test_unreadable_private_key_rejected(tmp_path, linux_target, no_connections):
    suite = make_suite(tmp_path, command("runs", "true"))

    with pytest.raises(ValueError, match="not an OpenSSH or PEM private key"):
        run_suite(suite, linux_target, "not a key")


def test_suite_run_reports_durations(tmp_path, linux_target, ssh_key):
    suite = make_suite(tmp_path, command("short-sleep", "sleep 0.2"))

    run = run_suite(suite, linux_target, ssh_key.private_key)

    assert result_of(run, "short-sleep").duration_ms >= 200
    assert run.duration_ms >= result_of(run, "short-sleep").duration_ms
