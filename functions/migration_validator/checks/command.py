"""The ``command`` check: a shell command run on the instance, judged by exit status and output."""

import re
from collections.abc import Mapping

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.base import RunContext, RunSettings, check_result, not_run_result, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import FILE_SIZE_LIMIT_EXIT_STATUS, timed_out, timeout_message
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult


def judge_command(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    cap = context.settings.output_cap_bytes
    duration_ms = record.duration_ms if record.duration_ms is not None else 0
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

    if timed_out(spec, record):
        return result(False, verdicts.TIMEOUT, timeout_message(spec, record))

    limit = context.settings.file_size_limit_bytes
    if record.exit_status == FILE_SIZE_LIMIT_EXIT_STATUS and max(record.stdout_total, record.stderr_total) >= limit:
        return result(
            False,
            verdicts.OUTPUT_CAPPED,
            f"printed {limit} bytes or more on one stream and was stopped by the file size limit (ulimit -f); "
            "print less, for example through head",
        )

    failures = _unmet_expectations(spec, record.exit_status, stdout, stderr, stdout_capped, stderr_capped, cap)
    if failures:
        reasons, messages = zip(*failures)
        return result(False, reasons[0], "; ".join(messages))

    message = f"exit status {record.exit_status}"
    if stdout_capped or stderr_capped:
        message += f"; output capped at {cap} bytes per stream (stdout {record.stdout_total} bytes, stderr {record.stderr_total} bytes)"
    return result(True, verdicts.OK, message)


@target_check_type("command", judge=judge_command)
def build_command(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(spec.params["command"], spec.timeout_seconds, settings.output_cap_bytes)


def _unmet_expectations(
    spec: CheckSpec, exit_status: int, stdout: str, stderr: str, stdout_capped: bool, stderr_capped: bool, cap: int
) -> list[tuple[str, str]]:
    """Return (reason, message) for each unmet expectation, exit status first.

    A text expectation that fails on capped output gets OUTPUT_CAPPED, because the
    expected text may lie past the captured bytes.
    """
    expect: Mapping = spec.params.get("expect", {})
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
        if stream in expect:
            for message in matchers.evaluate(stream, expect[stream], text.strip()):
                failures.append((reason, message + where))
    return failures
