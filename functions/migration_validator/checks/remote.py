"""Target-side checks: all of a suite's run in one SSH exec, with retries in further rounds.

Opening a channel costs a round trip per check, so the engine sends one generated
POSIX sh script (the runner, see command_runner.py) to ``sh -s``. The runner starts the
checks' commands in waves of at most ``max_parallel_commands``. A check with a retry
setting that did not pass runs again in the next round, one more exec on the same
connection, after its interval.
"""

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import paramiko
from aws_lambda_powertools import Logger

from migration_validator import verdicts
from migration_validator.checks.base import CHECK_TYPES, RunContext, RunSettings, check_result, elapsed_ms, not_run_result
from migration_validator.checks.command_runner import RemoteCommand, RunnerReport, build_runner_script, parse_runner_output
from migration_validator.checks.ssh import ExecOutput
from migration_validator.errors import TargetNotReady
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult, CheckStatus

logger = Logger(service="migration-validator", child=True)

RUNNER_COMMAND = "sh -s"


@dataclass(frozen=True)
class RoundPlan:
    commands: list[RemoteCommand]
    waves: list[list[int]]
    time_limit_seconds: float  # the runner's worst case: per wave, its longest timeout, the kill delay and the overhead


def plan_round(specs: Sequence[CheckSpec], settings: RunSettings) -> RoundPlan:
    """Turn checks into runner commands and split them into waves."""
    commands = [CHECK_TYPES[spec.type].build_command(spec, settings) for spec in specs]
    waves = split_waves(len(specs), settings)
    return RoundPlan(commands, waves, runner_time_limit([command.timeout_seconds for command in commands], settings))


def split_waves(count: int, settings: RunSettings) -> list[list[int]]:
    size = max(1, settings.max_parallel_commands)
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def runner_time_limit(timeouts: Sequence[float], settings: RunSettings) -> float:
    """Return the runner's worst case: per wave, its longest timeout, the kill delay and the overhead."""
    per_wave = settings.kill_after_seconds + settings.wave_overhead_seconds
    return sum(max(timeouts[index] for index in wave) + per_wave for wave in split_waves(len(timeouts), settings))


def run_target_checks(specs: Sequence[CheckSpec], context: RunContext) -> list[CheckResult]:
    """Run target-side checks in rounds until each passed or used its attempts; keep the order of ``specs``."""
    if context.ssh is None:
        raise ValueError("target-side checks need an SSH session")
    results: dict[str, CheckResult] = {}
    pending = list(specs)
    attempt = 1
    while pending:
        for spec, result in zip(pending, _run_round(pending, context)):
            results[spec.id] = replace(result, attempts=attempt)
        retrying = [spec for spec in pending if results[spec.id].status != CheckStatus.PASSED and spec.attempts > attempt]
        if retrying:
            interval = max(spec.retry.interval_seconds for spec in retrying)
            logger.info(
                "Retrying checks that did not pass",
                instance_id=context.target.instance_id,
                check_ids=[spec.id for spec in retrying],
                attempt=attempt + 1,
                interval_seconds=interval,
            )
            time.sleep(interval)
        pending = retrying
        attempt += 1
    return [results[spec.id] for spec in specs]


def _run_round(specs: Sequence[CheckSpec], context: RunContext) -> list[CheckResult]:
    settings = context.settings
    plan = plan_round(specs, settings)
    tag = f"mvr-{secrets.token_hex(8)}"
    script = build_runner_script(
        plan.commands,
        plan.waves,
        tag=tag,
        kill_after_seconds=settings.kill_after_seconds,
        file_size_limit_bytes=settings.file_size_limit_bytes,
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
    report = parse_runner_output(output.stdout, tag, plan.commands)
    if output.deadline_reached or not report.finished or report.garbled_waves:
        logger.warning(
            "Command runner did not finish",
            instance_id=context.target.instance_id,
            deadline_reached=output.deadline_reached,
            runner_error=report.runner_error,
            garbled_waves=report.garbled_waves,
            exit_status=output.exit_status,
            checks_reported=len(report.records),
            checks_total=len(specs),
        )

    results = []
    for index, spec in enumerate(specs):
        record = report.records.get(index)
        if record is not None:
            result = CHECK_TYPES[spec.type].judge(spec, record, context)
        elif output.deadline_reached:
            message = (
                f"no result within the command run's time limit of {deadline - started:g} s; "
                "the target did not finish this check or could not report it"
            )
            result = check_result(spec, passed=False, reason=verdicts.TIMEOUT, message=message, duration_ms=run_ms, redactor=context.redactor)
        else:
            result = not_run_result(spec, verdicts.RUNNER_FAILED, _runner_failure(report, output), context.redactor, run_ms)
        results.append(result)
    return results


def _runner_failure(report: RunnerReport, output: ExecOutput) -> str:
    if report.runner_error:
        return f"the command runner could not start on the target: {report.runner_error}"
    if report.garbled_waves:
        return (
            "a process started by a check in the same wave kept writing output after its check ended, "
            "so the wave's output could not be read back; make the check wait for what it starts"
        )
    stderr = output.stderr[:500].decode("utf-8", errors="replace").strip()
    detail = f"; its stderr: {stderr}" if stderr else ""
    return f"the command runner ended with exit status {output.exit_status} without reporting this check{detail}"
