"""Shared parts of every check type: settings, the run context, redaction, results and the type registry."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
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
    probe_capture_bytes: int = 65536  # output read back from a target-side check other than command
    content_capture_bytes: int = 1024 * 1024  # file content read back for a file check's content matcher
    # ulimit -f for every command on the target; it bounds the runner's temporary files.
    file_size_limit_bytes: int = 64 * 1024 * 1024


MIN_CUT_PIECE = 8


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
        """Replace the longest end of ``text`` that is the start of some secret.

        A piece shorter than MIN_CUT_PIECE characters (half the secret, for short secrets) is
        left alone: one or two characters end ordinary output far more often than a secret does,
        and that much of a secret reveals little.
        """
        longest = 0
        for secret in self._secrets:
            shortest = max(1, min(MIN_CUT_PIECE, len(secret) // 2))
            for length in range(min(len(secret) - 1, len(text)), max(longest, shortest - 1), -1):
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
    details: dict | None = None,
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
        details=_redact_details(details or {}, redactor),
    )


def _redact_details(details: dict, redactor: Redactor) -> dict:
    return {key: redactor.redact(value) if isinstance(value, str) else value for key, value in details.items()}


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
CommandBuilder = Callable[[CheckSpec, RunSettings], RemoteCommand]
RecordJudge = Callable[[CheckSpec, RunnerRecord, RunContext], CheckResult]


@dataclass(frozen=True)
class CheckType:
    """A registered check type.

    A target-side type (``build_command`` and ``judge`` set) turns each check into a
    shell command. The engine runs all target-side checks of a suite in one SSH exec and
    hands each check's record to ``judge``. A network type (``run_single`` set) runs one
    check per call from the engine, in parallel with others.
    """

    name: str
    needs_ssh: bool
    run_single: SingleRunner | None = None
    build_command: CommandBuilder | None = None
    judge: RecordJudge | None = None


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


def target_check_type(name: str, *, judge: RecordJudge) -> Callable[[CommandBuilder], CommandBuilder]:
    """Register a function that turns a check of type ``name`` into the command run on the target."""

    def register(build: CommandBuilder) -> CommandBuilder:
        _register(CheckType(name=name, needs_ssh=True, build_command=build, judge=judge))
        return build

    return register


def elapsed_ms(started: float, ended: float) -> int:
    """Milliseconds between two ``time.monotonic()`` readings."""
    return max(0, round((ended - started) * 1000))
