"""Run a suite's checks against one instance and decide the verdict.

Check types register themselves by name in ``CHECK_TYPES`` (see ``base.py``). Every
module of this package is imported below, so a new type is one new module plus its
entry in the suite schema. Target-side types (command, service, file, ...) all run in
one SSH exec (see ``remote.py``); network types (http, port) run from the engine.
"""

import importlib
import pkgutil
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from aws_lambda_powertools import Logger

from migration_validator.checks.addresses import check_address
from migration_validator.checks.base import (
    CHECK_TYPES,
    Redactor,
    RunContext,
    RunSettings,
    elapsed_ms,
    not_run_result,
)
from migration_validator.checks.budget import require_time_budget
from migration_validator.checks.remote import run_target_checks
from migration_validator.checks.ssh import (
    HostKeyRejected,
    PrivateKeyUnreadable,
    SshTimeouts,
    open_session,
    private_key_fragments,
)
from migration_validator.suites import CheckSpec, Suite, resolve_variables
from migration_validator.targets import Target
from migration_validator.verdicts import CheckResult, CheckStatus, SuiteRun, Verdict, decide_verdict

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["CHECK_TYPES", "PrivateKeyUnreadable", "RunSettings", "SshTimeouts", "require_time_budget", "run_suite"]

logger = Logger(service="migration-validator", child=True)


def run_suite(
    suite: Suite,
    target: Target,
    private_key: str | None,
    *,
    trust_on_first_use: bool = False,
    secrets: tuple[str, ...] = (),
    settings: RunSettings | None = None,
    time_limit_seconds: float | None = None,
) -> SuiteRun:
    """Run every check of ``suite`` against ``target`` and return the verdict with each check's result.

    ``${tag:NAME}`` references in the suite are filled from ``target.tags`` first. Opens at
    most one SSH connection, and only when the suite has target-side checks;
    ``private_key`` may be None otherwise. Output excerpts and messages have every value
    in ``secrets``, every tag the suite lists as secret and the private key's text
    replaced by ``[REDACTED]``.

    Raises TargetRejected when the target address is forbidden, before any connection.
    Raises SuiteInvalid when a tag reference cannot be filled, or when the suite's longest
    possible run exceeds ``time_limit_seconds``. Raises TargetNotReady when the SSH
    connection cannot be made or is lost, and the caller decides between a retry and
    UNREACHABLE. Raises ValueError when a suite with target-side checks gets no private
    key, and PrivateKeyUnreadable (a ValueError) for an unreadable or encrypted one. An
    untrusted host key raises nothing: the run returns verdict FAILED with reason
    HOST_KEY_MISMATCH or HOST_KEY_UNKNOWN, and every check is reported as not run.
    """
    settings = settings or RunSettings()
    started = time.monotonic()
    check_address(target.address)
    _require_known_types(suite)
    if time_limit_seconds is not None:
        require_time_budget(suite, time_limit_seconds, settings)
    suite, tag_secrets = resolve_variables(suite, target.tags, target.instance_id)
    key_fragments = private_key_fragments(private_key) if private_key else ()
    redactor = Redactor((*secrets, *tag_secrets, *key_fragments))

    session = None
    if any(CHECK_TYPES[spec.type].needs_ssh for spec in suite.checks):
        if not private_key:
            raise ValueError(f"suite {suite.name!r} has target-side checks, so run_suite needs the SSH private key")
        try:
            session = open_session(target, private_key, trust_on_first_use=trust_on_first_use, timeouts=settings.ssh)
        except HostKeyRejected as rejected:
            checks = [not_run_result(spec, rejected.reason, rejected.message, redactor) for spec in suite.checks]
            return SuiteRun(
                verdict=Verdict.FAILED,
                reason=rejected.reason,
                checks=checks,
                host_key_fingerprint=rejected.fingerprint,
                duration_ms=elapsed_ms(started, time.monotonic()),
            )

    context = RunContext(target=target, settings=settings, redactor=redactor, ssh=session)
    try:
        checks = _run_checks(suite.checks, context)
    finally:
        if session is not None:
            session.close()

    verdict, reason = decide_verdict(checks)
    run = SuiteRun(
        verdict=verdict,
        reason=reason,
        checks=checks,
        host_key_fingerprint=session.fingerprint if session else None,
        host_key_trusted_on_first_use=session.trusted_on_first_use if session else False,
        duration_ms=elapsed_ms(started, time.monotonic()),
    )
    logger.info(
        "Suite run finished",
        instance_id=target.instance_id,
        suite=suite.name,
        verdict=verdict.value,
        reason=reason,
        failed_checks=run.failed_check_ids,
        duration_ms=run.duration_ms,
    )
    return run


def _require_known_types(suite: Suite) -> None:
    unknown = sorted({spec.type for spec in suite.checks if spec.type not in CHECK_TYPES})
    if unknown:
        raise ValueError(
            f"suite {suite.name!r} uses check types {unknown} that this engine does not implement; "
            f"known types: {sorted(CHECK_TYPES)}"
        )


def _run_checks(specs: Sequence[CheckSpec], context: RunContext) -> list[CheckResult]:
    """Run target-side checks as one task and each network check as its own task, in parallel; keep suite order."""
    target_side = [spec for spec in specs if CHECK_TYPES[spec.type].build_command is not None]
    singles = [spec for spec in specs if CHECK_TYPES[spec.type].run_single is not None]

    workers = max(1, context.settings.max_parallel_network_checks) + 1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
        batch_future: Future | None = pool.submit(run_target_checks, target_side, context) if target_side else None
        single_futures = [pool.submit(_run_with_retry, spec, context) for spec in singles]
        results: list[CheckResult] = []
        if batch_future is not None:
            results.extend(batch_future.result())
        results.extend(future.result() for future in single_futures)

    by_id = {result.check_id: result for result in results}
    for result in results:
        logger.debug(
            "Check finished",
            instance_id=context.target.instance_id,
            check_id=result.check_id,
            type=result.type,
            status=result.status.value,
            reason=result.reason,
            attempts=result.attempts,
            duration_ms=result.duration_ms,
        )
    return [by_id[spec.id] for spec in specs]


def _run_with_retry(spec: CheckSpec, context: RunContext) -> CheckResult:
    """Run a network check, again after its retry interval while it fails and attempts remain."""
    run = CHECK_TYPES[spec.type].run_single
    attempt = 1
    while True:
        result = run(spec, context)
        result.attempts = attempt
        if result.status == CheckStatus.PASSED or attempt >= spec.attempts:
            return result
        logger.info(
            "Retrying check that did not pass",
            instance_id=context.target.instance_id,
            check_id=spec.id,
            reason=result.reason,
            attempt=attempt + 1,
        )
        time.sleep(spec.retry.interval_seconds)
        attempt += 1
