"""Time one suite of quick command checks four ways against a local OpenSSH sshd.

The four ways:

(a) this engine: one connection and one exec, with a timeout, exit status, duration and
capped output for every check.
(b) pytest-testinfra with its paramiko backend: one connection and one channel per check.
(c) a new OpenSSH ``ssh`` process, so a new connection, per check.
(d) the floor: all commands in one exec over one paramiko connection, with no per-check result.
 Each way runs ``--repeat`` times, interleaved, and
the median wall time is reported. The last line printed is
``ratios: engine/floor=X testinfra/engine=Y``.

Run it with ``make bench``; it needs root to bind port 22 on a loopback address.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (REPO_ROOT / "functions", REPO_ROOT / "cli"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from migration_validator.checks import run_suite  # noqa: E402
from migration_validator.checks.ssh import open_session  # noqa: E402
from migration_validator.suites import CheckSpec, Suite  # noqa: E402
from migration_validator.targets import Target  # noqa: E402
from migration_validator.verdicts import Verdict  # noqa: E402
from migration_validator_cli.local.targets import free_loopback_address, generate_ssh_key, start_sshd  # noqa: E402

# Quick checks of the kind a baseline suite runs: shell builtins and small programs.
QUICK_COMMANDS = (
    "test -d /tmp",
    "grep -q '^root:' /etc/passwd",
    "uname -r",
    "cat /proc/loadavg",
    "test -r /etc/hosts",
    "id -u",
    "date -u +%s",
    "head -n 1 /proc/meminfo",
    "test -x /bin/sh",
    "ls / >/dev/null",
)


@dataclass(frozen=True)
class BenchHost:
    """A running sshd and the files the other clients need to reach it."""

    target: Target
    private_key: str
    key_file: Path
    known_hosts: Path
    ssh_config: Path


def bench_commands(count: int) -> list[str]:
    """Return ``count`` quick commands, each a little different, all of which exit 0."""
    return [f"{QUICK_COMMANDS[index % len(QUICK_COMMANDS)]} && echo check-{index}" for index in range(count)]


def run_engine(host: BenchHost, commands: Sequence[str]) -> None:
    checks = tuple(CheckSpec(f"check-{index}", "command", 10.0, True, {"command": text}) for index, text in enumerate(commands))
    suite = Suite("bench", "benchmark suite", checks, "bench", host.key_file.parent / "bench.yaml")
    run = run_suite(suite, host.target, host.private_key)
    if run.verdict != Verdict.PASSED:
        raise RuntimeError(f"engine run failed: {[(check.check_id, check.message) for check in run.checks]}")


def run_testinfra(host: BenchHost, commands: Sequence[str]) -> None:
    import testinfra

    connection = testinfra.get_host(f"paramiko://{host.target.address}", ssh_config=str(host.ssh_config))
    for text in commands:
        result = connection.run(text)
        if result.rc != 0:
            raise RuntimeError(f"testinfra: {text!r} exited {result.rc}: {result.stderr}")
    # get_host caches the host and its paramiko client; dropping the client makes the next run connect anew, as the others do.
    connection.backend.client.close()
    del connection.backend.client


def run_ssh_per_check(host: BenchHost, commands: Sequence[str]) -> None:
    base = [
        "ssh", "-F", "/dev/null", "-i", str(host.key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={host.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-p", str(host.target.ssh_port), f"{host.target.ssh_user}@{host.target.address}",
    ]
    for text in commands:
        done = subprocess.run([*base, text], capture_output=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"ssh: {text!r} exited {done.returncode}: {done.stderr.decode(errors='replace')}")


def run_floor(host: BenchHost, commands: Sequence[str]) -> None:
    session = open_session(host.target, host.private_key)
    try:
        output = session.exec("sh -s", ("set -e\n" + "\n".join(commands) + "\n").encode(), time.monotonic() + 60)
    finally:
        session.close()
    if output.exit_status != 0:
        raise RuntimeError(f"floor run exited {output.exit_status}: {output.stderr.decode(errors='replace')}")


APPROACHES: dict[str, Callable[[BenchHost, Sequence[str]], None]] = {
    "engine": run_engine,
    "testinfra": run_testinfra,
    "ssh-per-check": run_ssh_per_check,
    "floor": run_floor,
}


def start_bench_host(workdir: Path):
    """Start sshd on a free loopback address and write the key, known_hosts and ssh_config files."""
    key = generate_ssh_key("migration-validator-bench")
    address = free_loopback_address(ports=(22,))
    sshd = start_sshd(address, 22, key.public_key, workdir / "sshd")
    key_file = workdir / "id_ed25519"
    key_file.write_text(key.private_key)
    key_file.chmod(0o600)
    host_public = Path(f"{sshd.host_key_path}.pub").read_text().split()
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"{address} {host_public[0]} {host_public[1]}\n")
    ssh_config = workdir / "ssh_config"
    ssh_config.write_text(
        f"Host {address}\n  User {sshd.user}\n  Port 22\n  IdentityFile {key_file}\n  StrictHostKeyChecking no\n"
    )
    target = Target("i-0000000000000bench", address, ssh_user=sshd.user, ssh_port=22, expected_host_key=sshd.host_key_fingerprint)
    return sshd, BenchHost(target, key.private_key, key_file, known_hosts, ssh_config)


def measure(checks: int, repeat: int, report: Callable[[str], None] = print) -> dict[str, float]:
    """Run every approach ``repeat`` times, interleaved, and return each one's median wall time in seconds."""
    commands = bench_commands(checks)
    times: dict[str, list[float]] = {name: [] for name in APPROACHES}
    with tempfile.TemporaryDirectory(prefix="migration-validator-bench-") as directory:
        sshd, host = start_bench_host(Path(directory))
        with sshd:
            for name, run in APPROACHES.items():  # one warm-up each, not timed
                run(host, commands[:1])
            for _ in range(repeat):
                for name, run in APPROACHES.items():
                    started = time.perf_counter()
                    run(host, commands)
                    times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        report(f"{name:<14} {medians[name]:7.3f} s  (median of {repeat}: {' '.join(f'{value:.3f}' for value in values)})")
    report(f"ratios: engine/floor={medians['engine'] / medians['floor']:.2f} testinfra/engine={medians['testinfra'] / medians['engine']:.2f}")
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=30, help="command checks in the suite (default 30)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each approach; the median is reported (default 5)")
    arguments = parser.parse_args(argv)
    print(f"{arguments.checks} command checks against OpenSSH sshd on loopback, {arguments.repeat} runs each")
    measure(arguments.checks, arguments.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
