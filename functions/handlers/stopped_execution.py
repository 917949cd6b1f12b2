"""StoppedExecution: give an execution that ended FAILED, TIMED_OUT or ABORTED its verdict.

EventBridge sends "Step Functions Execution Status Change" events here. No Catch runs when an
execution times out or is stopped, and the fallback branch itself may have failed, so this
handler records ERROR unless a verdict exists and publishes the verdict unless it was sent.
"""

import json

from migration_validator.aws import name_transient_errors
from migration_validator.notify import publish_verdict
from migration_validator.observability import bind_ids, count, logger, tracer
from migration_validator.records import verdict_from_state
from migration_validator.results import record_verdict


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    detail = event["detail"]
    execution_name = detail["name"]
    status = detail["status"]
    state = json.loads(detail.get("input") or "{}")
    state.setdefault("execution_name", execution_name)
    state["error"] = {"Error": f"Execution{status.title().replace('_', '')}", "Cause": detail.get("cause") or detail.get("error")}
    bind_ids(execution_name=execution_name, instance_id=(state.get("launch") or {}).get("instance_id"))

    verdict, reason, attributes = verdict_from_state(state, execution_arn=detail["executionArn"])
    recorded = record_verdict(execution_name, verdict, reason, attributes)
    if recorded.written:
        count("Verdicts", "verdict", recorded.verdict)
        logger.warning("execution stopped without a verdict; recorded ERROR", extra={"status": status})

    message_id = publish_verdict(execution_name)
    if message_id:
        logger.info("verdict published for a stopped execution", extra={"status": status, "message_id": message_id})
    return {"verdict": recorded.verdict, "written": recorded.written, "published": message_id is not None}
