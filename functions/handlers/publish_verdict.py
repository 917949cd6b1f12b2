"""PublishVerdict: publish the recorded verdict to VerdictTopic, once per execution."""

from migration_validator.aws import name_transient_errors
from migration_validator.notify import publish_verdict
from migration_validator.observability import bind_ids, logger, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    execution_name = event["execution_name"]
    bind_ids(execution_name=execution_name)

    message_id = publish_verdict(execution_name)
    if message_id is None:
        logger.info("verdict already published")
    else:
        logger.info("verdict published", extra={"message_id": message_id})
    return {"published": message_id is not None}
