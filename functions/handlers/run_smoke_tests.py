"""RunSmokeTests: run the instance's suite, store the check results, return a small summary.

While the instance boots, a refused connection, a missing SSH banner or a rejected key raises
TargetNotReady, which the state machine retries. Once BOOT_GRACE_SECONDS have passed since the
execution started, the same conditions give the verdict UNREACHABLE instead.
"""

import os
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from migration_validator.aws import CLIENT_CONFIG, is_transient, name_transient_errors
from migration_validator.checks import PrivateKeyUnreadable, run_suite
from migration_validator.errors import SshKeyUnavailable, TargetNotReady
from migration_validator.observability import bind_ids, logger, milliseconds, tracer
from migration_validator.results import store_checks
from migration_validator.suites import load_suite
from migration_validator.targets import describe_target
from migration_validator.verdicts import SuiteRun, Verdict

# Keys rotate rarely; caching the secret for five minutes spares a Secrets Manager call per run.
SECRET_MAX_AGE_SECONDS = 300


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    state = event["target"]
    execution_name = event["execution_name"]
    bind_ids(execution_name=execution_name, instance_id=state["instance_id"])

    # The address and the tags come from EC2 again rather than from the execution state, so a
    # check reaches the instance's own address and tag values never enter the execution history.
    target = describe_target(state["instance_id"], default_user=state["ssh_user"])
    suite_name = state["suite"]

    suite = load_suite(suite_name, Path(os.environ["SUITES_DIR"]))
    private_key = read_private_key(os.environ["SSH_KEY_SECRET_ARN"])
    trust_on_first_use = os.environ.get("TRUST_HOST_KEY_ON_FIRST_USE", "false") == "true"

    # The suite's longest possible run must fit in what is left of this invocation's timeout.
    time_limit_seconds = context.get_remaining_time_in_millis() / 1000
    try:
        run = run_suite(suite, target, private_key, trust_on_first_use=trust_on_first_use, time_limit_seconds=time_limit_seconds)
    except PrivateKeyUnreadable as unreadable:
        raise SshKeyUnavailable(os.environ["SSH_KEY_SECRET_ARN"], str(unreadable)) from None
    except TargetNotReady as not_ready:
        if not past_boot_grace(event["execution_started_at"]):
            logger.info("instance not ready yet; Step Functions retries", extra={"reason": not_ready.reason})
            raise
        logger.warning("instance still unreachable after the boot grace period", extra={"reason": not_ready.reason})
        run = SuiteRun(verdict=Verdict.UNREACHABLE, reason=not_ready.reason)

    details = {
        "suite": suite.name,
        "suite_hash": suite.content_hash,
        "checks_total": len(run.checks),
        "checks_failed": len(run.failed_check_ids),
        "host_key_fingerprint": run.host_key_fingerprint,
        "host_key_trusted_on_first_use": run.host_key_trusted_on_first_use,
        "duration_ms": run.duration_ms,
    }
    # The verdict itself is written by RecordResult, once; this stores what led to it.
    store_checks(execution_name, details, [check.to_item() for check in run.checks])
    milliseconds("SuiteDuration", run.duration_ms)
    logger.info("suite finished", extra={"verdict": run.verdict.value, "reason": run.reason, "suite": suite.name})

    # Only ids and counts go back into the execution state; check output stays in ResultsTable.
    return {"verdict": run.verdict.value, "reason": run.reason, **details, "failed_checks": run.failed_check_ids[:10]}


def read_private_key(secret_arn: str) -> str:
    try:
        key = secrets_provider().get(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as error:
        # Powertools raises GetParameterError inside its except block, so the AWS error is its context.
        if isinstance(error.__context__, ClientError) and is_transient(error.__context__):
            raise error.__context__ from None  # name_transient_errors turns it into AwsServiceUnavailable
        raise SshKeyUnavailable(secret_arn, f"could not be read: {error}") from error
    if not isinstance(key, str) or "PRIVATE KEY" not in key:
        raise SshKeyUnavailable(secret_arn, "the SecretString is not a PEM or OpenSSH private key")
    return key


@cache
def secrets_provider() -> parameters.SecretsProvider:
    """Return a Secrets Manager provider whose client has the timeouts and retries of every other client."""
    return parameters.SecretsProvider(boto_config=CLIENT_CONFIG)


def past_boot_grace(execution_started_at: str) -> bool:
    started = datetime.fromisoformat(execution_started_at.replace("Z", "+00:00"))
    grace = timedelta(seconds=int(os.environ.get("BOOT_GRACE_SECONDS", "900")))
    return datetime.now(timezone.utc) >= started + grace
