"""TagInstance: write the migration-validator status tags on the instance."""

from migration_validator.aws import name_transient_errors
from migration_validator.observability import bind_ids, logger, tracer
from migration_validator.tags import write_status


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    instance_id = event.get("instance_id")
    bind_ids(execution_name=event.get("execution_name"), instance_id=instance_id)
    if not instance_id:
        # A failed MGN launch or an error before ResolveTarget leaves no instance to tag.
        logger.info("no instance to tag", extra={"status": event["status"]})
        return {"tagged": False}

    launch = event.get("launch") or {}
    try:
        tags = write_status(instance_id, event["status"], event["execution_name"], launch.get("wave"))
    except Exception:
        logger.exception("instance tags not written", extra={"status": event["status"]})
        raise
    logger.info("instance tagged", extra={"tags": tags})
    return {"tagged": True}
