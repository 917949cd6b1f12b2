"""`migration-validator local chaos` as a user runs it: a short run under every kind of fault.

The command runs in its own process with its own local stack, so its faults cannot reach the
stack the workflow tests share.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(360)

LAUNCHES = 15
FAULT_KINDS = ("lambda", "dynamodb_throttle", "dynamodb_lost_response", "sns_error", "ssh_cut")


def parse_counts(line: str) -> dict[str, int]:
    return {key: int(value) for key, value in (pair.split("=") for pair in line.split())}


@pytest.fixture(scope="module")
def chaos_output(tmp_path_factory) -> list[str]:
    log_dir = tmp_path_factory.mktemp("chaos")
    command = [
        sys.executable, "-m", "migration_validator_cli.main", "local", "chaos",
        "--launches", str(LAUNCHES), "--instances", "2", "--seed", "7",
        "--lambda-error-rate", "0.15", "--dynamodb-throttle-rate", "0.1", "--dynamodb-lost-response-rate", "0.05",
        "--sns-error-rate", "0.3", "--ssh-cut-rate", "0.2", "--duplicate-rate", "0.2",
        # Cuts inside the SSH handshake only: a cut while output arrives is covered by test_ssh_cut.py.
        "--ssh-cut-max-bytes", "1800",
        "--timeout", "240", "--log-dir", str(log_dir),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=330, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    lines = result.stdout.strip().splitlines()
    assert lines, f"chaos printed nothing; stderr: {result.stderr[-2000:]}"
    return lines


def test_chaos_loses_no_launch(chaos_output):
    counts = parse_counts(chaos_output[-1])
    assert counts["launches"] == LAUNCHES
    assert counts["lost"] == 0


def test_chaos_records_each_launch_once(chaos_output):
    counts = parse_counts(chaos_output[-1])
    assert counts["records"] == LAUNCHES
    assert counts["duplicate_records"] == 0


def test_chaos_notifies_each_launch_once(chaos_output):
    counts = parse_counts(chaos_output[-1])
    assert counts["notifications"] == LAUNCHES
    assert counts["duplicate_notifications"] == 0


def test_chaos_injects_every_fault_kind(chaos_output):
    injected_line = next(line for line in chaos_output if line.startswith("faults injected: "))
    injected = ast.literal_eval(injected_line.removeprefix("faults injected: "))
    for kind in FAULT_KINDS:
        assert injected.get(kind, 0) > 0, f"no {kind} fault was injected, so this run proved nothing about it"


# Injected Lambda faults can use up a step's retries; the honest outcome then is ERROR naming
# the fault, never a wrong PASSED or FAILED.
EXHAUSTED_RETRY_VERDICTS = {f"ERROR ({name})" for name in ("Sandbox.Timedout", "Lambda.ServiceException", "Lambda.TooManyRequestsException")}


def test_chaos_faults_change_no_verdict(chaos_output):
    unexpected = [line.split(": ", 2)[2].rsplit(", expected", 1)[0] for line in chaos_output if line.startswith("unexpected verdict: ")]

    assert [verdict for verdict in unexpected if verdict not in EXHAUSTED_RETRY_VERDICTS] == []
