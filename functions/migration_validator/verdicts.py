"""Verdicts, check statuses and the reason codes that explain them."""

from dataclasses import asdict, dataclass, field
from enum import Enum


class Verdict(str, Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"  # reachable, and a required check failed
    UNREACHABLE = "UNREACHABLE"  # no usable connection before the boot grace deadline
    LAUNCH_FAILED = "LAUNCH_FAILED"  # the migration service reported the launch failed
    ERROR = "ERROR"  # the workflow itself broke


class CheckStatus(str, Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    WARNING = "WARNING"  # a check marked required: false that failed
    ERROR = "ERROR"  # the check could not be run at all


# Reason codes: one word each, stored with every verdict and every check result.
ALL_REQUIRED_PASSED = "ALL_REQUIRED_PASSED"
CHECK_FAILED = "CHECK_FAILED"
EXIT_STATUS = "EXIT_STATUS"
OUTPUT_MISMATCH = "OUTPUT_MISMATCH"
HTTP_STATUS = "HTTP_STATUS"
BODY_MISMATCH = "BODY_MISMATCH"
HEADER_MISMATCH = "HEADER_MISMATCH"
CONNECTION_REFUSED = "CONNECTION_REFUSED"
NO_SSH_BANNER = "NO_SSH_BANNER"
AUTH_FAILED = "AUTH_FAILED"
HOST_KEY_MISMATCH = "HOST_KEY_MISMATCH"
HOST_KEY_UNKNOWN = "HOST_KEY_UNKNOWN"  # no expected host key is set and trust on first use is off
CONNECTION_FAILED = "CONNECTION_FAILED"  # a network error other than refused or timed out, e.g. no route to host
RUNNER_FAILED = "RUNNER_FAILED"  # the command runner on the target ended without reporting a check
TIMEOUT = "TIMEOUT"
OUTPUT_CAPPED = "OUTPUT_CAPPED"
TLS_INVALID = "TLS_INVALID"
TARGET_REJECTED = "TARGET_REJECTED"
VALUE_MISMATCH = "VALUE_MISMATCH"  # a fact read from the target (service state, file mode, ...) does not match
NOT_FOUND = "NOT_FOUND"  # the service, file, package, user, group, mount or name does not exist
PROBE_FAILED = "PROBE_FAILED"  # the target lacks a tool the check needs, or the tool failed
TOO_MANY_REDIRECTS = "TOO_MANY_REDIRECTS"
REDIRECT_OFF_TARGET = "REDIRECT_OFF_TARGET"  # a redirect leads to another host, which checks never contact
OK = "OK"


@dataclass
class CheckResult:
    """Outcome of one check; ``stdout`` and ``stderr`` are capped and redacted excerpts."""

    check_id: str
    type: str
    status: CheckStatus
    reason: str
    message: str
    duration_ms: int
    required: bool = True
    stdout: str = ""
    stderr: str = ""
    capped: bool = False
    attempts: int = 1  # runs of the check, more than one when its retry setting repeated it
    details: dict = field(default_factory=dict)  # facts behind the outcome, such as tls_verified for https

    def to_item(self) -> dict:
        item = asdict(self)
        item["status"] = self.status.value
        return item


@dataclass
class SuiteRun:
    """Outcome of one suite run against one instance."""

    verdict: Verdict
    reason: str
    checks: list[CheckResult] = field(default_factory=list)
    host_key_fingerprint: str | None = None
    host_key_trusted_on_first_use: bool = False
    duration_ms: int = 0

    @property
    def failed_check_ids(self) -> list[str]:
        return [c.check_id for c in self.checks if c.required and c.status in (CheckStatus.FAILED, CheckStatus.ERROR)]


def decide_verdict(checks: list[CheckResult]) -> tuple[Verdict, str]:
    """Return the verdict and reason for a suite whose target was reachable.

    A required check that failed or could not run fails the suite; its reason code
    becomes the verdict's reason. Warnings never change the verdict.
    """
    for check in checks:
        if check.required and check.status in (CheckStatus.FAILED, CheckStatus.ERROR):
            return Verdict.FAILED, check.reason
    return Verdict.PASSED, ALL_REQUIRED_PASSED
