"""The runner script run by a real local sh, its output parser, target-side probes and the time budget."""

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from migration_validator.checks import CHECK_TYPES, RunSettings
from migration_validator.checks.budget import longest_run
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord, build_runner_script, parse_runner_output
from migration_validator.checks.listening import listening_addresses
from migration_validator.checks.probe import parse_facts
from migration_validator.suites import CheckSpec, RetryPolicy, Suite

TAG = "mvr-test"


def run_locally(commands: list[RemoteCommand], wave_size: int = 10, environment: dict | None = None) -> bytes:
    waves = [list(range(start, min(start + wave_size, len(commands)))) for start in range(0, len(commands), wave_size)]
    script = build_runner_script(commands, waves, tag=TAG, kill_after_seconds=1, file_size_limit_bytes=1 << 20)
    return subprocess.run(["sh", "-s"], input=script.encode(), capture_output=True, timeout=60, env=environment).stdout


def test_runner_reports_each_command():
    commands = [RemoteCommand("echo out; echo err >&2; exit 3", 5, 4096), RemoteCommand("printf 'a\\000b'", 5, 4096)]

    report = parse_runner_output(run_locally(commands), TAG, commands)

    assert report.finished
    assert report.records[0].exit_status == 3
    assert report.records[0].stdout == b"out\n"
    assert report.records[0].stderr == b"err\n"
    assert report.records[1].stdout == b"a\x00b"


def test_runner_keeps_one_byte_past_cap():
    commands = [RemoteCommand("head -c 100 /dev/zero", 5, 10), RemoteCommand("head -c 10 /dev/zero", 5, 10)]

    report = parse_runner_output(run_locally(commands), TAG, commands)

    assert len(report.records[0].stdout) == 11
    assert report.records[0].stdout_total == 100
    assert len(report.records[1].stdout) == 10


def test_runner_mixed_capture_sizes_in_one_wave():
    commands = [
        RemoteCommand("head -c 50 /dev/zero | tr '\\0' a", 5, 20),
        RemoteCommand("head -c 50 /dev/zero | tr '\\0' b", 5, 100),
        RemoteCommand("head -c 50 /dev/zero | tr '\\0' c", 5, 20),
    ]

    report = parse_runner_output(run_locally(commands), TAG, commands)

    assert report.records[0].stdout == b"a" * 21
    assert report.records[1].stdout == b"b" * 50
    assert report.records[2].stdout == b"c" * 21


def test_runner_file_size_limit_stops_writer():
    commands = [RemoteCommand("head -c 3000000 /dev/zero", 5, 16)]

    report = parse_runner_output(run_locally(commands), TAG, commands)

    assert report.records[0].exit_status == 153
    assert report.records[0].stdout_total == 1 << 20


def test_runner_output_lookalike_lines_ignored():
    commands = [RemoteCommand(f"echo '{TAG} wave'; echo '{TAG} end'", 5, 4096), RemoteCommand("echo second", 5, 4096)]

    report = parse_runner_output(run_locally(commands, wave_size=1), TAG, commands)

    assert report.records[0].stdout == f"{TAG} wave\n{TAG} end\n".encode()
    assert report.records[1].stdout == b"second\n"


def test_parser_leaves_out_unfinished_wave():
    commands = [RemoteCommand("echo one", 5, 4096), RemoteCommand("echo two", 5, 4096)]
    output = run_locally(commands, wave_size=1)
    cut = output[: output.rindex(f"{TAG} wave\n".encode()) + 20]

    report = parse_runner_output(cut, TAG, commands)

    assert sorted(report.records) == [0]
    assert not report.finished


def test_parser_drops_wave_whose_sizes_do_not_match():
    commands = [RemoteCommand("echo one", 5, 4096)]
    output = run_locally(commands)
    grown = output.replace(b"one\n", b"one\nmore written after wc\n")

    report = parse_runner_output(grown, TAG, commands)

    assert report.records == {}
    assert report.garbled_waves == 1


def test_probe_facts_and_content():
    record = RunnerRecord(0, 0, 5, b"exists=true\nmode=644\nmode=600\n--content--\nline one\nline=two\n", b"", 52, 0)

    facts = parse_facts(record)

    assert facts.all("mode") == ["644", "600"]
    assert facts.content == b"line one\nline=two\n"
    assert facts.first("line") is None


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def run_probe_with_tools(port: int, tools: list[str], tmp_path: Path) -> RunnerRecord:
    """Run the listening probe with a PATH holding only ``tools``, so it falls back as on a lean target."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    spec = CheckSpec("sock", "listening", 5, True, {"port": port})
    command = CHECK_TYPES["listening"].build_command(spec, RunSettings())
    done = subprocess.run(["/bin/sh", "-c", command.text], capture_output=True, timeout=30, env={"PATH": str(bin_dir)})
    return RunnerRecord(0, done.returncode, 0, done.stdout, done.stderr, len(done.stdout), len(done.stderr))


@pytest.mark.parametrize("tools", [["ss"], ["netstat"], []], ids=["ss", "netstat", "proc"])
def test_listening_probe_finds_socket(tmp_path, listener, tools):
    facts = parse_facts(run_probe_with_tools(listener, tools, tmp_path))

    assert facts.first("tool") == (tools[0] if tools else "proc")
    assert listening_addresses(facts, listener) == ["127.0.0.1"]


def _suite(*checks: CheckSpec) -> Suite:
    return Suite("budget", "d", checks, "hash", Path("budget.yaml"))


def test_budget_counts_waves_rounds_and_connection():
    settings = RunSettings()
    checks = [CheckSpec(f"c{index}", "command", 10, True, {"command": "true"}) for index in range(12)]
    checks[0] = CheckSpec("c0", "command", 10, True, {"command": "true"}, retry=RetryPolicy(3, 5))

    budget = longest_run(_suite(*checks), settings)

    connect = 10 + 10 + 10 + 10  # TCP connect, banner, key exchange, authentication
    round_one = 10 + 5 + (10 + 3) * 2  # channel, margin, two waves of (timeout + kill delay + overhead)
    later_rounds = 2 * (5 + 10 + 5 + 10 + 3)  # interval, channel, margin, one wave with the retrying check
    assert budget.rounds == 3
    assert budget.target_side_seconds == connect + round_one + later_rounds
    assert budget.longest_check == "c0"


def test_budget_network_checks_share_workers():
    checks = [CheckSpec(f"p{index}", "port", 10, True, {"port": 22}) for index in range(16)]

    budget = longest_run(_suite(*checks), RunSettings(max_parallel_network_checks=8))

    assert budget.target_side_seconds == 0
    assert budget.network_seconds == pytest.approx(16 * 10 / 8 + 10 * (1 - 1 / 8))
