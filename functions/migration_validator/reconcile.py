"""Reconciliation: find launched instances that never got a verdict, and validate them.

A launch message can be lost before it starts an execution, for example when an EventBridge
rule is missing or disabled or a message expires on the queue. An execution can also end
without a verdict when the rule on execution status changes could not deliver. The sweep
looks at two sources:

- MGN DescribeSourceServers: the instance each unarchived source server last launched
  (``launchedInstance.ec2InstanceID``);
- EC2 instances tagged ``migration-validator:status=IN_PROGRESS``.

An instance is missed when it is running, was launched more than the grace period ago, and
has no verdict recorded since that launch. It must also have no execution that could still
record one. So the owner of its launch claim and the execution its
``migration-validator:execution`` tag names must not be running or have ended within the
grace period, and no earlier sweep may have started one.

A missed instance gets a plain launch message on LaunchQueue, so its validation goes through
the same intake as every other launch. The request id is ``reconcile-<instance>-<launch
time>``, the same on every sweep. A message sent again before StartValidation has read the
first maps to the same execution name and starts nothing new; once that execution exists,
later sweeps leave the instance to it. A plain
message is a deliberate request, so it runs even when a dead execution holds the launch
claim, and it takes a free claim, so a late MGN or EC2 report of the launch yields to it.

NOTE: the record of a reconciled MGN launch has the source "plain" and no source server, job
or launch type, because a plain message carries none of them; the sweep's output names the
source server.
"""

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from botocore.exceptions import ClientError

from .aws import client, env
from .claims import read_claim_owner
from .launches import Launch, execution_name, read_message
from .observability import logger
from .tags import EXECUTION, STATUS, WAVE, own_tags
from .targets import utc_seconds

IN_PROGRESS = "IN_PROGRESS"
REQUEST_ID_PREFIX = "reconcile-"
# EC2 accepts at most 200 values in one DescribeInstances filter.
MAX_FILTER_VALUES = 200


@dataclass(frozen=True)
class Sent:
    """A launch message the sweep sent for a missed instance."""

    instance_id: str
    found_by: str  # "mgn" or "status-tag"
    launch_time: str
    request_id: str
    execution_name: str
    source_server_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def sweep(grace: timedelta, now: datetime | None = None) -> list[Sent]:
    """Send a plain launch message for every missed instance; return what was sent."""
    now = now or datetime.now(timezone.utc)
    candidates = mgn_launched_instances()
    for instance_id in tagged_in_progress():
        candidates.setdefault(instance_id, ("status-tag", None))

    sent = []
    for instance in describe_running(list(candidates)):
        found_by, source_server_id = candidates[instance["InstanceId"]]
        message = _missed_instance_message(instance, grace, now)
        if message is None:
            continue
        body, launch = message
        client("sqs").send_message(QueueUrl=env("LAUNCH_QUEUE_URL"), MessageBody=body)
        entry = Sent(
            instance_id=launch.instance_id,
            found_by=found_by,
            launch_time=utc_seconds(instance["LaunchTime"]),
            request_id=launch.request_id,
            execution_name=execution_name(launch),
            source_server_id=source_server_id,
        )
        logger.warning("instance launched without a verdict; validation requested", extra=entry.to_dict())
        sent.append(entry)
    return sent


def mgn_launched_instances() -> dict[str, tuple[str, str | None]]:
    """Return {instance id: ("mgn", source server id)} for each unarchived source server's launched instance."""
    found = {}
    paginator = client("mgn").get_paginator("describe_source_servers")
    for page in paginator.paginate(filters={"isArchived": False}):
        for server in page.get("items", []):
            instance_id = (server.get("launchedInstance") or {}).get("ec2InstanceID")
            if instance_id:
                found[instance_id] = ("mgn", server.get("sourceServerID"))
    return found


def tagged_in_progress() -> list[str]:
    paginator = client("ec2").get_paginator("describe_instances")
    pages = paginator.paginate(Filters=[{"Name": f"tag:{STATUS}", "Values": [IN_PROGRESS]}])
    return [instance["InstanceId"] for page in pages for reservation in page["Reservations"] for instance in reservation["Instances"]]


def describe_running(instance_ids: list[str]) -> list[dict]:
    """Return the running instances among ``instance_ids``; ids EC2 does not know are left out."""
    instances = []
    paginator = client("ec2").get_paginator("describe_instances")
    for start in range(0, len(instance_ids), MAX_FILTER_VALUES):
        filters = [
            # A filter, unlike InstanceIds, skips unknown ids instead of failing the whole call.
            {"Name": "instance-id", "Values": instance_ids[start : start + MAX_FILTER_VALUES]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
        for page in paginator.paginate(Filters=filters):
            instances.extend(instance for reservation in page["Reservations"] for instance in reservation["Instances"])
    return instances


def _missed_instance_message(instance: dict, grace: timedelta, now: datetime) -> tuple[str, Launch] | None:
    """Return the launch message for an instance that was missed, or None when it needs none."""
    instance_id = instance["InstanceId"]
    launch_time = utc_seconds(instance["LaunchTime"])
    if instance["LaunchTime"] > now - grace:
        return None
    if has_verdict_since(instance_id, launch_time):
        return None

    tags = own_tags(instance.get("Tags", []))
    body, launch = reconcile_message(instance_id, launch_time, tags.get(WAVE))
    own = describe_execution(execution_name(launch))
    if own is not None:
        # The name is the same on every sweep, so sending again would start nothing.
        if own["status"] != "RUNNING":
            logger.error(
                "an earlier sweep's execution ended without a verdict for this instance; start a new attempt by hand",
                extra={"instance_id": instance_id, "execution_name": own["name"], "status": own["status"]},
            )
        return None

    others = {read_claim_owner(instance_id, launch_time)}
    if tags.get(STATUS) == IN_PROGRESS:
        others.add(tags.get(EXECUTION))
    for name in others - {None}:
        execution = describe_execution(name)
        # The rule on execution status changes records ERROR shortly after an execution fails.
        if execution and (execution["status"] == "RUNNING" or execution["stopDate"] > now - grace):
            logger.info("instance has no verdict yet, but an execution may still record one", extra={"instance_id": instance_id, "execution_name": name})
            return None
    return body, launch


def reconcile_message(instance_id: str, launch_time: str, wave: str | None) -> tuple[str, Launch]:
    """Build the plain launch message for a missed instance, keeping its wave tag when valid."""
    request_id = REQUEST_ID_PREFIX + instance_id + "-" + "".join(ch for ch in launch_time if ch.isdigit())
    message = {"instance_id": instance_id, "request_id": request_id}
    if wave:
        reading = read_message(json.dumps({**message, "wave": wave}))
        if isinstance(reading, Launch):
            return json.dumps({**message, "wave": wave}), reading
        logger.warning("wave tag is not a valid wave; reconciling without it", extra={"instance_id": instance_id, "wave": wave})
    body = json.dumps(message)
    return body, read_message(body)


def has_verdict_since(instance_id: str, launch_time: str) -> bool:
    """Return True when ResultsTable contains a verdict for the instance recorded at or after ``launch_time``.

    Only verdict records carry ``recorded_at``, so only they appear in the by-instance index.
    """
    response = client("dynamodb").query(
        TableName=env("RESULTS_TABLE"),
        IndexName="by-instance",
        KeyConditionExpression="instance_id = :instance AND recorded_at >= :launched",
        # recorded_at has milliseconds ("...:05.123Z"); without its "Z" the launch time sorts before them.
        ExpressionAttributeValues={":instance": {"S": instance_id}, ":launched": {"S": launch_time.removesuffix("Z")}},
        Select="COUNT",
    )
    return response["Count"] > 0


def describe_execution(name: str) -> dict | None:
    """Return DescribeExecution's output for an execution of the state machine, or None if none has this name."""
    arn = env("STATE_MACHINE_ARN").replace(":stateMachine:", ":execution:") + ":" + name
    try:
        return client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
            return None
        raise
