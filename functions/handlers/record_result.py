"""RecordResult: store the execution's one verdict in ResultsTable.

Called on the main path with the suite run in ``state.run`` and on the fallback branch with
the caught error in ``state.error``; either way an execution that already has a verdict keeps it.
"""

from migration_validator.aws import name_transient_errors
from migration_validator.observability import bind_ids, count, logger, tracer
from migration_validator.records import verdict_from_state
from migration_validator.results import record_verdict


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    state = event["state"]
    execution_name = state["execution_name"]
    verdict, reason, attributes = verdict_from_state(state, execution_arn=event.get("execution_arn"))
    bind_ids(execution_name=execution_name, instance_id=attributes.get("instance_id"))

    recorded = record_verdict(execution_name, verdict, reason, attributes)
    if recorded.written:
        count("Verdicts", "verdict", recorded.verdict)
        logger.info("verdict recorded", extra={"verdict": recorded.verdict, "reason": recorded.reason})
    return recorded.to_state()
