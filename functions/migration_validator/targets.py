"""The instance a suite runs against, as read from EC2."""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from .aws import client
from .errors import InstanceNotFound, LaunchNotResolved
from .tags import HOST_KEY, SSH_PORT, SSH_USER, own_tags


@dataclass(frozen=True)
class Target:
    """An instance to validate; ``address`` is its private IPv4 address as EC2 reports it."""

    instance_id: str
    address: str
    platform: str = "linux"
    ssh_user: str = "ec2-user"
    ssh_port: int = 22
    expected_host_key: str | None = None  # "SHA256:..." fingerprint, from the migration-validator:host-key tag
    tags: dict[str, str] = field(default_factory=dict)
    launch_time: str | None = None  # EC2 LaunchTime in UTC, "2026-10-12T14:05:00Z"; describe_target always sets it

    def to_state(self) -> dict:
        """Return the fields that travel in the execution state.

        Tags stay out: a suite may mark a tag's value secret, and every state input and output
        is kept in the execution history. RunSmokeTests reads the tags from EC2 itself.
        """
        state = asdict(self)
        del state["tags"]
        return state


def find_mgn_instance(job_id: str, source_server_id: str) -> str:
    """Return the instance MGN launched for a source server in a job.

    MGN fills ``launchedEc2InstanceID`` some time after the launch event, so a missing id
    raises LaunchNotResolved, which the state machine retries.
    """
    response = client("mgn").describe_jobs(filters={"jobIDs": [job_id]})
    jobs = response.get("items", [])
    if not jobs:
        raise LaunchNotResolved(job_id, source_server_id, "MGN DescribeJobs returned no job with this id yet")
    for server in jobs[0].get("participatingServers", []):
        if server.get("sourceServerID") == source_server_id:
            instance_id = server.get("launchedEc2InstanceID")
            if instance_id:
                return instance_id
            raise LaunchNotResolved(job_id, source_server_id, "MGN has not reported the launched instance id yet")
    raise LaunchNotResolved(job_id, source_server_id, "the source server is not among the job's participating servers")


def describe_target(instance_id: str, default_user: str) -> Target:
    """Read the instance from EC2: its private address, platform and migration-validator tags."""
    try:
        response = client("ec2").describe_instances(InstanceIds=[instance_id])
    except ClientError as error:
        if error.response["Error"]["Code"] in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            raise InstanceNotFound(instance_id, "EC2 has no such instance in this account and region") from error
        raise
    instances = [i for reservation in response["Reservations"] for i in reservation["Instances"]]
    if not instances:
        raise InstanceNotFound(instance_id, "EC2 has no such instance in this account and region")
    instance = instances[0]

    state = instance.get("State", {}).get("Name")
    if state in ("shutting-down", "terminated", "stopping", "stopped"):
        raise InstanceNotFound(instance_id, f"the instance is {state}; start it, then validate it again")
    address = instance.get("PrivateIpAddress")
    if not address:
        raise InstanceNotFound(instance_id, "the instance has no private IPv4 address")

    tags = own_tags(instance.get("Tags", []))
    port = tags.get(SSH_PORT, "22")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InstanceNotFound(instance_id, f"tag {SSH_PORT}={port!r} is not a TCP port; set it to a number from 1 to 65535")
    return Target(
        instance_id=instance_id,
        address=address,
        platform=(instance.get("Platform") or "linux").lower(),
        ssh_user=tags.get(SSH_USER, default_user),
        ssh_port=int(port),
        expected_host_key=tags.get(HOST_KEY),
        tags=tags,
        launch_time=utc_seconds(instance["LaunchTime"]),
    )


def utc_seconds(moment: datetime) -> str:
    """Format a time as ISO 8601 in UTC to the second, as EC2 reports LaunchTime."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
