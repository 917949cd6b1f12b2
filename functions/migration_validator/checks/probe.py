"""Shared parts of the target-side check types: timeouts, output excerpts and probe facts.

A probe is the shell command that a fact-reading type (service, file, package, ...)
runs on the target. It prints ``key=value`` lines, then optionally a line
``--content--`` followed by raw bytes (a file's content). A line ``error=TEXT`` means
the target lacks what the probe needs.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.base import RunContext, check_result, not_run_result
from migration_validator.checks.command_runner import RunnerRecord, shell_quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# timeout(1) exits 124 when it sent SIGTERM at the limit, and 137 when it had to follow with SIGKILL.
TIMEOUT_EXIT_STATUSES = (124, 137)
# ulimit -f stops a writer past the limit with SIGXFSZ, which a shell reports as 128 + 25.
FILE_SIZE_LIMIT_EXIT_STATUS = 153
CONTENT_MARKER = b"\n--content--\n"


def timed_out(spec: CheckSpec, record: RunnerRecord) -> bool:
    """Tell a timeout from a command that exited 124 or was killed by a signal itself, by its duration."""
    if record.exit_status not in TIMEOUT_EXIT_STATUSES:
        return False
    if record.duration_ms is None:
        return True
    # /proc/uptime has 10 ms resolution; the allowance covers it.
    return record.duration_ms >= spec.timeout_seconds * 1000 - 20


def timeout_message(spec: CheckSpec, record: RunnerRecord) -> str:
    how = "killed with SIGKILL" if record.exit_status == 137 else "stopped with SIGTERM"
    return f"timed out after {spec.timeout_seconds:g} s and was {how}"


def quote(value: Any) -> str:
    return shell_quote(str(value))


@dataclass
class Facts:
    """Output of a probe: ``key=value`` facts (a key may repeat) and the raw content after them."""

    values: dict[str, list[str]] = field(default_factory=dict)
    content: bytes = b""
    content_complete: bool = True  # False when the content was longer than the bytes read back

    def first(self, key: str, default: str | None = None) -> str | None:
        found = self.values.get(key)
        return found[0] if found else default

    def all(self, key: str) -> list[str]:
        return list(self.values.get(key, []))


def parse_facts(record: RunnerRecord) -> Facts:
    data = record.stdout
    facts = Facts()
    marker = data.find(CONTENT_MARKER)
    head = data if marker < 0 else data[:marker]
    if marker >= 0:
        facts.content = data[marker + len(CONTENT_MARKER) :]
        facts.content_complete = len(data) >= record.stdout_total
    for line in head.decode("utf-8", errors="replace").splitlines():
        key, separator, value = line.partition("=")
        if separator and key and " " not in key:
            facts.values.setdefault(key, []).append(value)
    return facts


@dataclass(frozen=True)
class Assessment:
    """A fact type's judgement: passed or not, the reason code, the message and facts worth keeping."""

    passed: bool
    reason: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


def passed(message: str, **details: Any) -> Assessment:
    return Assessment(True, verdicts.OK, message, details)


def failed(reason: str, message: str, **details: Any) -> Assessment:
    return Assessment(False, reason, message, details)


def judge_facts(
    spec: CheckSpec, record: RunnerRecord, context: RunContext, assess: Callable[[Facts], Assessment]
) -> CheckResult:
    """Turn a probe's record into a result: timeouts and probe errors first, then ``assess``."""
    cap = context.settings.output_cap_bytes
    stdout = record.stdout[:cap].decode("utf-8", errors="replace")
    stderr = record.stderr[:cap].decode("utf-8", errors="replace")
    duration_ms = record.duration_ms or 0

    if timed_out(spec, record):
        return check_result(
            spec, passed=False, reason=verdicts.TIMEOUT, message=timeout_message(spec, record),
            duration_ms=duration_ms, redactor=context.redactor, stdout=stdout, stderr=stderr,
        )
    facts = parse_facts(record)
    error = facts.first("error")
    if error is not None or record.exit_status != 0:
        detail = error or f"the probe exited with status {record.exit_status}: {stderr.strip()[:300]}"
        return not_run_result(spec, verdicts.PROBE_FAILED, f"{spec.type} {_subject(spec)}: {detail}", context.redactor, duration_ms)

    assessment = assess(facts)
    return check_result(
        spec,
        passed=assessment.passed,
        reason=assessment.reason,
        message=f"{spec.type} {_subject(spec)}: {assessment.message}",
        duration_ms=duration_ms,
        redactor=context.redactor,
        stdout=stdout,
        stderr=stderr,
        capped=len(record.stdout) > cap or len(record.stderr) > cap,
        details=dict(assessment.details),
    )


def _subject(spec: CheckSpec) -> str:
    for key in ("name", "path", "port"):
        if key in spec.params:
            return str(spec.params[key])
    return spec.id


def expectation(spec: CheckSpec) -> Mapping[str, Any]:
    return spec.params.get("expect", {})


def match_all(spec: CheckSpec, actual: Mapping[str, Any], labels: Mapping[str, str], *, version_scheme: str = "generic") -> list[str]:
    """Evaluate each expected field named in ``labels`` against ``actual``; return the unmet ones' messages."""
    failures = []
    expect = expectation(spec)
    for key, label in labels.items():
        if key in expect:
            failures.extend(matchers.evaluate(label, expect[key], actual.get(key), version_scheme=version_scheme))
    return failures


def presence(
    spec: CheckSpec,
    key: str,
    found: bool,
    absent: str,
    summary: str,
    compare: Callable[[], list[str]],
) -> Assessment:
    """Judge a thing that must exist (``expect.KEY``, default true) or must not, then its fields.

    ``absent`` states that it does not exist, and ``summary`` describes it when it does.
    """
    expected = expectation(spec).get(key, True)
    if not found:
        if expected:
            return failed(verdicts.NOT_FOUND, absent)
        return passed(f"{absent}, as expected")
    if not expected:
        return failed(verdicts.VALUE_MISMATCH, f"exists ({summary}), expected {key}: false")
    failures = compare()
    if failures:
        return failed(verdicts.VALUE_MISMATCH, f"{'; '.join(failures)} ({summary})")
    return passed(summary)
