"""Build the ResultsTable attributes of a verdict from the state machine's state."""

import json

from .verdicts import Verdict

_LAUNCH_FIELDS = ("source", "launch_type", "source_server_id", "job_id", "wave")
_RUN_FIELDS = (
    "suite", "suite_hash", "checks_total", "checks_failed", "host_key_fingerprint",
    "host_key_trusted_on_first_use", "duration_ms",
)


def verdict_from_state(state: dict, execution_arn: str | None = None) -> tuple[str, str, dict]:
    """Return (verdict, reason, attributes) for the state a RecordResult task receives.

    The suite run in ``state["run"]`` gives the verdict; without one, the caught error in
    ``state["error"]`` makes it ERROR with the error name as reason.
    """
    launch = state.get("launch") or {}
    target = state.get("target") or {}
    run = state.get("run") or {}
    error = state.get("error") or {}

    attributes = {key: launch.get(key) for key in _LAUNCH_FIELDS}
    attributes["instance_id"] = target.get("instance_id") or launch.get("instance_id")
    attributes["suite"] = target.get("suite") or launch.get("suite")
    attributes["attempt"] = state.get("attempt")
    attributes["execution_arn"] = execution_arn
    attributes.update({key: run[key] for key in _RUN_FIELDS if key in run})

    if run.get("verdict") and not error:
        return run["verdict"], run.get("reason") or run["verdict"], attributes

    if run.get("verdict") and error.get("Error") == "TargetNotReady":
        # NotReadyAfterRetries: retries ran out before the function saw the deadline pass.
        return run["verdict"], run.get("reason") or run["verdict"], attributes

    attributes["error"] = error.get("Error") or "UnknownError"
    attributes["error_cause"] = error_message(error.get("Cause"))
    return Verdict.ERROR.value, attributes["error"], attributes


def error_message(cause: str | None) -> str | None:
    """Return the message of a Lambda error payload, without its stack trace.

    Step Functions passes a failed function's payload as the JSON string in Cause; other
    errors (States.Timeout, a stopped execution) carry plain text, which is kept as it is.
    """
    if not cause:
        return cause
    try:
        payload = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        return payload["errorMessage"]
    return cause
