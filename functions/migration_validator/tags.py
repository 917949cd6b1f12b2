"""The instance tags this product reads and writes; every key starts with ``migration-validator:``.

IAM confines the TagInstance function to these keys (aws:TagKeys condition in template.yaml).
"""

from .aws import client
from .results import now_iso

PREFIX = "migration-validator:"
STATUS = PREFIX + "status"
SUITE = PREFIX + "suite"
EXECUTION = PREFIX + "execution"
WAVE = PREFIX + "wave"
CHECKED_AT = PREFIX + "checked-at"
HOST_KEY = PREFIX + "host-key"  # expected SSH host key fingerprint, "SHA256:..."
SSH_USER = PREFIX + "ssh-user"
SSH_PORT = PREFIX + "ssh-port"

# EC2 tag values: at most 256 Unicode characters.
MAX_VALUE_CHARS = 256


def own_tags(tags: list[dict]) -> dict[str, str]:
    """Return this product's tags from an EC2 Tags list."""
    return {tag["Key"]: tag["Value"] for tag in tags or [] if tag["Key"].startswith(PREFIX)}


def write_status(instance_id: str, status: str, execution_name: str, wave: str | None = None) -> dict[str, str]:
    """Write the status tags; the suite tag is only read, so a mistyped suite in one message does not stick."""
    tags = {STATUS: status, EXECUTION: execution_name, CHECKED_AT: now_iso(), WAVE: wave}
    tags = {key: str(value)[:MAX_VALUE_CHARS] for key, value in tags.items() if value}
    client("ec2").create_tags(Resources=[instance_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return tags
