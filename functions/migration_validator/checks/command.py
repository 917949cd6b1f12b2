"""The ``command`` check: shell commands run on the instance over SSH, all of a suite's in one exec.

Opening a channel costs a round trip per check, so the engine sends one generated
POSIX sh script (the runner) to ``sh -s``. The runner starts the commands in waves of
at most ``max_parallel_commands``. Each command runs under coreutils ``timeout`` with
stdin from /dev/null. A reader keeps the first bytes of its stdout and of its stderr and
drains the rest, so no amount of output blocks a command. After each wave the runner
prints one framed record per check (see command_runner.py).
"""

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import paramiko
from aws_lambda_powertools import Logger

from migration_validator import verdicts
from migration_validator.checks.base import (
    RunContext,
    batch_check_type,
    check_result,
    elapsed_ms,
    not_run_result,
)
from migration_validator.checks.command_runner import RunnerRecord, build_runner_script, parse_runner_output
from migration_validator.checks.ssh import ExecOutput
from migration_validator.errors import TargetNotReady
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

logger = Logger(service="migration-validator", child=True)

RUNNER_COMMAND = "sh -s"
# timeout(1) exits 124 when it sent SIGTERM at the limit, and 137 when it had to follow with SIGKILL.
_TIMEOUT_EXIT_STATUSES = (124, 137)


@dataclass(frozen=True)
class _Plan:
    waves: list[list[int]]
    time_limit_seconds: float  # the runner's worst case: per wave, its longest timeout, the kill delay and the overhead


def _plan(specs: Sequence[CheckSpec], context: RunContext) -> _Plan:
    size = max(1, context.settings.max_parallel_commands)
    waves = [list(range(start, min(start + size, len(specs)))) for start in range(0, len(specs), size)]
    per_wave = context.settings.kill_after_seconds + context.settings.wave_overhead_seconds
    limit = sum(max(specs[index].timeout_seconds for index in wave) + per_wave for wave in waves)
    return _Plan(waves, limit)


@batch_check_type("command", needs_ssh=True)
def run_command_checks(specs: Sequence[CheckSpec], context: RunContext) -> list[CheckResult]:
    """Run all command checks of a suite in one exec; unfinished checks at the deadline are TIMEOUT."""
    if context.ssh is None:
        raise ValueError("command checks need an SSH session")
    settings = context.settings
    plan = _plan(specs, context)
    tag = f"mvr-{secrets.token_hex(8)}"
    script = build_runner_script(
        [(spec.params["command"], spec.timeout_seconds) for spec in specs],
        plan.waves,
        tag=tag,
        capture_bytes=settings.output_cap_bytes,
        kill_after_seconds=settings.kill_after_seconds,
    )

    started = time.monotonic()
    deadline = started + plan.time_limit_seconds + settings.deadline_margin_seconds
    try:
        output = context.ssh.exec(RUNNER_COMMAND, script.encode("utf-8"), deadline)
    except (paramiko.SSHException, EOFError, OSError) as error:
        target = context.target
        logger.warning("SSH connection lost while running commands", instance_id=target.instance_id, error=str(error))
        raise TargetNotReady(
            target.instance_id, target.address, verdicts.CONNECTION_FAILED, f"SSH connection lost while running commands: {error}"
        ) from None
    run_ms = elapsed_ms(started, time.monotonic())
    report = parse_runner_output(output.stdout, tag)
    if output.deadline_reached or not report.finished:
        logger.warning(
            "Command runner did not finish",
            instance_id=context.target.instance_id,
            deadline_reached=output.deadline_reached,
            runner_error=report.runner_error,
            exit_status=output.exit_status,
            checks_reported=len(report.records),
            checks_total=len(specs),
        )

    results = []
    for index, spec in enumerate(specs):
        record = report.records.get(index)
        if record is not None:
            result = _judge(spec, record, run_ms, context)
        elif output.deadline_reached:
            message = (
                f"no result within the command run's time limit of {deadline - started:g} s; "
                "the target did not finish this check, or a process it started kept its output open"
            )
            result = check_result(spec, passed=False, reason=verdicts.TIMEOUT, message=message, duration_ms=run_ms, redactor=context.redactor)
        else:
            result = not_run_result(spec, verdicts.RUNNER_FAILED, _runner_failure(report.runner_error, output), context.redactor, run_ms)
        results.append(result)
    return results


def _runner_failure(runner_error: str | None, output: ExecOutput) -> str:
    if runner_error:
        return f"the command runner could not start on the target: {runner_error}"
    stderr = output.stderr[:500].decode("utf-8", errors="replace").strip()
    detail = f"; its stderr: {stderr}" if stderr else ""
    return f"the command runner ended with exit status {output.exit_status} without reporting this check{detail}"


def _judge(spec: CheckSpec, record: RunnerRecord, run_ms: int, context: RunContext) -> CheckResult:
    cap = context.settings.output_cap_bytes
    duration_ms = record.duration_ms if record.duration_ms is not None else run_ms
    stdout = record.stdout[:cap].decode("utf-8", errors="replace")
    stderr = record.stderr[:cap].decode("utf-8", errors="replace")
    stdout_capped = record.stdout_total > cap
    stderr_capped = record.stderr_total > cap

    def result(passed: bool, reason: str, message: str) -> CheckResult:
        return check_result(
            spec, passed=passed, reason=reason, message=message, duration_ms=duration_ms,
            redactor=context.redactor, stdout=stdout, stderr=stderr, capped=stdout_capped or stderr_capped,
        )

    if record.exit_status is None:
        return not_run_result(spec, verdicts.RUNNER_FAILED, "the command runner recorded no exit status", context.redactor, duration_ms)

    if _timed_out(spec, record):
        how = "killed with SIGKILL" if record.exit_status == 137 else "stopped with SIGTERM"
        return result(False, verdicts.TIMEOUT, f"timed out after {spec.timeout_seconds:g} s and was {how}")

    failures = _unmet_expectations(spec, record.exit_status, stdout, stderr, stdout_capped, stderr_capped, cap)
    if failures:
        reasons, messages = zip(*failures)
        return result(False, reasons[0], "; ".join(messages))

    message = f"exit status {record.exit_status}"
    if stdout_capped or stderr_capped:
        message += f"; output capped at {cap} bytes per stream (stdout {record.stdout_total} bytes, stderr {record.stderr_total} bytes)"
    return result(True, verdicts.OK, message)


def _timed_out(spec: CheckSpec, record: RunnerRecord) -> bool:
    """Tell a timeout from a command that exited 124 or was killed by a signal itself, by its duration."""
    if record.exit_status not in _TIMEOUT_EXIT_STATUSES:
        return False
    if record.duration_ms is None:
        return True
    # A small allowance for clock granularity between the runner's two readings.
    return record.duration_ms >= spec.timeout_seconds * 1000 - 20


def _unmet_expectations(
    spec: CheckSpec, exit_status: int, stdout: str, stderr: str, stdout_capped: bool, stderr_capped: bool, cap: int
) -> list[tuple[str, str]]:
    """Return (reason, message) for each unmet expectation, exit status first.

    A text expectation that fails on capped output gets OUTPUT_CAPPED, because the
    expected text may lie past the captured bytes.
    """
    expect = spec.params.get("expect", {})
    failures = []
    expected_status = expect.get("exit_status", 0)
    if exit_status != expected_status:
        failures.append((verdicts.EXIT_STATUS, f"exit status {exit_status}, expected {expected_status}"))

    for stream, text, capped in (("stdout", stdout, stdout_capped), ("stderr", stderr, stderr_capped)):
        reason = verdicts.OUTPUT_CAPPED if capped else verdicts.OUTPUT_MISMATCH
        where = f" in its first {cap} bytes" if capped else ""
        needle = expect.get(f"{stream}_contains")
        if needle is not None and needle not in text:
            failures.append((reason, f"{stream} does not contain {needle!r}{where}"))
        pattern = expect.get(f"{stream}_regex")
        if pattern is not None and not re.search(pattern, text, re.MULTILINE):
            failures.append((reason, f"{stream} does not match the regex {pattern!r}{where}"))
    return failures
