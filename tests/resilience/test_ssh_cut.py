"""A target that drops the SSH connection while a suite runs must be retried, not failed.

sshd listens behind a CuttingTcpProxy that closes the connection after a set number of bytes
from the server: inside the handshake, or while the command output arrives.
"""

from __future__ import annotations

import shutil

import pytest

from migration_validator.checks import run_suite
from migration_validator.errors import TargetNotReady
from migration_validator.suites import load_suite
from migration_validator.targets import Target
from migration_validator_cli.local.faults import CuttingTcpProxy, FaultDice, FaultPlan
from migration_validator_cli.local.targets import free_loopback_address, start_sshd
from migration_validator_cli.paths import SUITES_DIR

pytestmark = pytest.mark.timeout(60)

UPSTREAM_PORT = 2222
# Each command prints 3000 bytes, so a cut after the handshake (about 2 KB) falls inside the output.
SUITE = """
description: Two commands with output large enough to be cut while it arrives
checks:
  - id: first
    type: command
    command: head -c 3000 /dev/zero | tr '\\0' x; sleep 1
    timeout_seconds: 3
  - id: second
    type: command
    command: head -c 3000 /dev/zero | tr '\\0' y; sleep 1
    timeout_seconds: 3
"""


@pytest.fixture
def cut_target(tmp_path, ssh_key):
    """Return a function that starts a proxy cutting after ``n`` bytes and gives the Target behind it."""
    address = free_loopback_address(ports=(22, UPSTREAM_PORT))
    sshd = start_sshd(address, UPSTREAM_PORT, ssh_key.public_key, tmp_path / "sshd")
    proxies: list[CuttingTcpProxy] = []

    def start(cut_after: int) -> Target:
        proxy = CuttingTcpProxy((address, 22), (address, UPSTREAM_PORT), FaultDice(FaultPlan(ssh_cut_rate=1.0)), (cut_after, cut_after))
        proxy.start()
        proxies.append(proxy)
        return Target(instance_id="i-0123456789abcdef0", address=address, ssh_user=sshd.user, expected_host_key=sshd.host_key_fingerprint)

    yield start
    for proxy in proxies:
        proxy.stop()
    sshd.stop()


@pytest.fixture
def suite(tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    shutil.copy(SUITES_DIR / "suite.schema.json", suites)
    (suites / "cut-output.yaml").write_text(SUITE)
    return load_suite("cut-output", suites)


def test_cut_in_handshake_is_not_ready(cut_target, suite, ssh_key):
    target = cut_target(1000)

    with pytest.raises(TargetNotReady):
        run_suite(suite, target, ssh_key.private_key)


def test_cut_during_output_is_not_ready(cut_target, suite, ssh_key):
    target = cut_target(3500)

    try:
        run = run_suite(suite, target, ssh_key.private_key)
    except TargetNotReady:
        return
    raise AssertionError(f"run_suite returned {run.verdict.value} ({run.reason}) for a cut connection")
