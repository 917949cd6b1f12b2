"""Claims on instance launches, so that one launch of an instance gets one verdict.

MGN's launch result and EC2's running event can both report the same launch. Their launch
keys differ (job and source server; instance and event time), so each report starts its own
execution. Once ResolveTarget has found the instance, the execution claims the instance launch,
keyed by instance id and EC2 LaunchTime, with a conditional put in ResultsTable. The first
execution to claim owns the launch, and claiming again from the same execution succeeds.

Automatic reports (MGN, EC2, CloudEndure) on their first attempt yield to another owner.
Plain messages and later attempts are deliberate requests from an operator or from the
reconciliation sweep, so they run even when the launch is owned. They still take a free claim,
so that a late automatic report of the same launch adds no second verdict.
"""

from botocore.exceptions import ClientError

from .aws import client, env
from .errors import LaunchAlreadyValidated
from .results import now_iso

# Claim items share ResultsTable with verdict records, whose keys are execution names. Step
# Functions names cannot contain "#", so a claim key never equals an execution name.
CLAIM_PREFIX = "launch#"
AUTOMATIC_SOURCES = ("mgn", "ec2", "cloudendure")


def claim_key(instance_id: str, launch_time: str) -> str:
    return f"{CLAIM_PREFIX}{instance_id}#{launch_time}"


def claim_instance_launch(instance_id: str, launch_time: str, execution_name: str) -> str:
    """Claim the instance launch for an execution unless another owns it; return the owner's name."""
    try:
        client("dynamodb").put_item(
            TableName=env("RESULTS_TABLE"),
            Item={
                "execution_name": {"S": claim_key(instance_id, launch_time)},
                "claimed_by": {"S": execution_name},
                "claimed_instance_id": {"S": instance_id},
                "launch_time": {"S": launch_time},
                "claimed_at": {"S": now_iso()},
            },
            ConditionExpression="attribute_not_exists(execution_name) OR claimed_by = :owner",
            ExpressionAttributeValues={":owner": {"S": execution_name}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return error.response["Item"]["claimed_by"]["S"]
    return execution_name


def read_claim_owner(instance_id: str, launch_time: str) -> str | None:
    """Return the execution that owns the instance launch, or None when no execution has claimed it."""
    response = client("dynamodb").get_item(
        TableName=env("RESULTS_TABLE"),
        Key={"execution_name": {"S": claim_key(instance_id, launch_time)}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return item["claimed_by"]["S"] if item else None


def is_deliberate(launch: dict, attempt: int) -> bool:
    """Return True for requests that run even when another execution owns the launch."""
    return attempt > 1 or launch.get("source") not in AUTOMATIC_SOURCES


def claim_or_yield(launch: dict, attempt: int, instance_id: str, launch_time: str, execution_name: str) -> str:
    """Claim the instance launch; raise LaunchAlreadyValidated when an automatic report must yield.

    Returns the owning execution's name, which differs from ``execution_name`` only for a
    deliberate request of a launch that another execution owns.
    """
    owner = claim_instance_launch(instance_id, launch_time, execution_name)
    if owner != execution_name and not is_deliberate(launch, attempt):
        raise LaunchAlreadyValidated(instance_id, launch_time, owner)
    return owner
