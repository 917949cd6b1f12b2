"""ResolveTarget: find the launched instance and choose its suite."""

import os

from migration_validator.observability import bind_ids, logger, tracer
from migration_validator.tags import SUITE
from migration_validator.targets import describe_target, find_mgn_instance


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict, context) -> dict:
    launch = event["launch"]
    bind_ids(execution_name=event.get("execution_name"), instance_id=launch.get("instance_id"))

    instance_id = launch.get("instance_id")
    if not instance_id:
        instance_id = find_mgn_instance(launch["job_id"], launch["source_server_id"])
        bind_ids(instance_id=instance_id)
        logger.info("MGN reported the launched instance", extra={"job_id": launch["job_id"]})

    target = describe_target(instance_id, default_user=os.environ.get("SSH_USER", "ec2-user"))

    # The suite named in the message wins, then the instance's tag, then the stack default.
    suite = launch.get("suite") or target.tags.get(SUITE) or os.environ["DEFAULT_SUITE"]
    logger.info("target resolved", extra={"address": target.address, "suite": suite})
    return {**target.to_state(), "suite": suite}
