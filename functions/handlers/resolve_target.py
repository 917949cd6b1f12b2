"""ResolveTarget: find the launched instance, claim its launch and choose its suite."""

import os

from migration_validator.aws import name_transient_errors
from migration_validator.claims import claim_or_yield
from migration_validator.errors import LaunchAlreadyValidated
from migration_validator.observability import bind_ids, logger, tracer
from migration_validator.tags import SUITE
from migration_validator.targets import describe_target, find_mgn_instance


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@name_transient_errors
def handler(event: dict, context) -> dict:
    launch = event["launch"]
    execution_name = event["execution_name"]
    attempt = event.get("attempt") or 1
    bind_ids(execution_name=execution_name, instance_id=launch.get("instance_id"))

    instance_id = launch.get("instance_id")
    if not instance_id:
        instance_id = find_mgn_instance(launch["job_id"], launch["source_server_id"])
        bind_ids(instance_id=instance_id)
        logger.info("MGN reported the launched instance", extra={"job_id": launch["job_id"]})

    target = describe_target(instance_id, default_user=os.environ.get("SSH_USER", "ec2-user"))

    # MGN and EC2 may both report this launch; only one of their executions validates it.
    try:
        owner = claim_or_yield(launch, attempt, instance_id, target.launch_time, execution_name)
    except LaunchAlreadyValidated as claimed:
        logger.info("instance launch claimed by another execution; ending without a verdict", extra={"owner_execution": claimed.owner_execution, "launch_time": claimed.launch_time})
        raise
    if owner != execution_name:
        logger.info("instance launch claimed by another execution; validating again as requested", extra={"owner_execution": owner, "attempt": attempt})

    # The suite named in the message wins, then the instance's tag, then the stack default.
    suite = launch.get("suite") or target.tags.get(SUITE) or os.environ["DEFAULT_SUITE"]
    logger.info("target resolved", extra={"address": target.address, "suite": suite})
    return {**target.to_state(), "suite": suite}
