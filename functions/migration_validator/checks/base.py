"""Shared parts of every check type: settings, the run context, redaction, results and the type registry."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from migration_validator.checks.ssh import SshSession, SshTimeouts
from migration_validator.suites import CheckSpec
from migration_validator.targets import Target
from migration_validator.verdicts import CheckResult, CheckStatus

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class RunSettings:
    """Engine limits that suites do not set."""

    ssh: SshTimeouts = field(default_factory=SshTimeouts)
    output_cap_bytes: int = 4096  # kept per stream for each command, and of each HTTP body excerpt
    max_parallel_commands: int = 10  # commands running at once on the target
    kill_after_seconds: float = 2.0  # SIGKILL this long after a command's SIGTERM at its timeout
    wave_overhead_seconds: float = 1.0  # allowed per wave of commands for process start-up and its report
    deadline_margin_seconds: float = 5.0  # added once to the command run's time limit on the Python side
    max_parallel_network_checks: int = 8  # http and port checks running at once from the engine


class Redactor:
    """Replaces secret values in text shown to people with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {secret for secret in secrets if secret}
        # Longest first, so a secret that contains a shorter one is replaced whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    def redact(self, text: str, *, cut: bool = False) -> str:
        """Return ``text`` with every secret replaced.

        ``cut`` means the text is the start of a longer output. A secret split at the cut
        may then end the text, so a trailing piece of a secret is replaced as well.
        """
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        if cut:
            text = self._redact_cut_tail(text)
        return text

    def _redact_cut_tail(self, text: str) -> str:
        """Replace the longest end of ``text`` that is the start of some secret."""
        longest = 0
        for secret in self._secrets:
            for length in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:length]):
                    longest = length
                    break
        return text[: len(text) - longest] + REDACTED if longest else text


@dataclass(frozen=True)
class RunContext:
    """Inputs of a running check: the target, the SSH session when the suite needs one, the limits and the redactor."""

    target: Target
    settings: RunSettings
    redactor: Redactor
    ssh: SshSession | None = None


def check_result(
    spec: CheckSpec,
    *,
    passed: bool,
    reason: str,
    message: str,
    duration_ms: int,
    redactor: Redactor,
    stdout: str = "",
    stderr: str = "",
    capped: bool = False,
) -> CheckResult:
    """Build a result whose status follows ``passed`` and ``spec.required``; the texts are redacted here."""
    if passed:
        status = CheckStatus.PASSED
    elif spec.required:
        status = CheckStatus.FAILED
    else:
        status = CheckStatus.WARNING
    return CheckResult(
        check_id=spec.id,
        type=spec.type,
        status=status,
        reason=reason,
        message=redactor.redact(message),
        duration_ms=duration_ms,
        required=spec.required,
        stdout=redactor.redact(stdout, cut=capped),
        stderr=redactor.redact(stderr, cut=capped),
        capped=capped,
    )


def not_run_result(spec: CheckSpec, reason: str, message: str, redactor: Redactor, duration_ms: int = 0) -> CheckResult:
    """Build the ERROR result of a check that could not run at all."""
    return CheckResult(
        check_id=spec.id,
        type=spec.type,
        status=CheckStatus.ERROR,
        reason=reason,
        message=redactor.redact(message),
        duration_ms=duration_ms,
        required=spec.required,
    )


SingleRunner = Callable[[CheckSpec, RunContext], CheckResult]
BatchRunner = Callable[[Sequence[CheckSpec], RunContext], list[CheckResult]]


@dataclass(frozen=True)
class CheckType:
    """A registered check type.

    A batch type receives all of a suite's checks of its type in one call, which lets
    commands share one SSH exec. A single type runs one check per call, in parallel with others.
    """

    name: str
    needs_ssh: bool
    run_single: SingleRunner | None = None
    run_batch: BatchRunner | None = None


CHECK_TYPES: dict[str, CheckType] = {}


def _register(check_type: CheckType) -> None:
    if check_type.name in CHECK_TYPES:
        raise ValueError(f"check type {check_type.name!r} is registered twice")
    CHECK_TYPES[check_type.name] = check_type


def single_check_type(name: str) -> Callable[[SingleRunner], SingleRunner]:
    """Register a function that runs one check of type ``name`` without SSH."""

    def register(run: SingleRunner) -> SingleRunner:
        _register(CheckType(name=name, needs_ssh=False, run_single=run))
        return run

    return register


def batch_check_type(name: str, *, needs_ssh: bool) -> Callable[[BatchRunner], BatchRunner]:
    """Register a function that runs every check of type ``name`` in a suite in one call."""

    def register(run: BatchRunner) -> BatchRunner:
        _register(CheckType(name=name, needs_ssh=needs_ssh, run_batch=run))
        return run

    return register


def elapsed_ms(started: float, ended: float) -> int:
    """Milliseconds between two ``time.monotonic()`` readings."""
    return max(0, round((ended - started) * 1000))
