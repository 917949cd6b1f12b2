"""Helpers for the intake tests: sample messages with fresh ids, and what the stack did with them."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from boto3.dynamodb.types import TypeDeserializer

from migration_validator_cli.replay import dead_letters, wait_until_empty

CASES = Path(__file__).resolve().parents[1] / "cases"
LAUNCH_MESSAGES = CASES / "launch-messages"
BAD_MESSAGES = CASES / "bad-messages"
NOT_SAMPLES = {"expected.json", "README.md"}


def sample(directory: Path, name: str, replacements: dict[str, str] | None = None) -> str:
    """Return a sample body with ids replaced; ids appear verbatim even inside nested JSON strings."""
    text = (directory / name).read_text(encoding="utf-8")
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    return text


def sample_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.name not in NOT_SAMPLES)


def fresh_instance_id() -> str:
    return "i-" + uuid.uuid4().hex[:17]


def fresh_source_server_id() -> str:
    return "s-" + uuid.uuid4().hex[:17]


def fresh_job_id() -> str:
    return "mgnjob-" + uuid.uuid4().hex[:17]


def mgn_event(source_server_id: str, job_id: str, state: str = "TEST_LAUNCH_SUCCEEDED") -> str:
    """An MGN launch result event from the raw sample, for a source server and job of the test's own."""
    replacements = {"s-3f2e1d0c9b8a76543": source_server_id, "mgnjob-04ca7d0d3fb6afa3e": job_id, "TEST_LAUNCH_SUCCEEDED": state}
    return sample(LAUNCH_MESSAGES, "mgn-test-launch-succeeded.raw.json", replacements)


def ec2_running_event(instance_id: str) -> str:
    return sample(LAUNCH_MESSAGES, "ec2-running.raw.json", {"i-0a1b2c3d4e5f60718": instance_id})


def sns_envelope(stack, body: str) -> str:
    """Wrap a body in the SNS notification envelope that SNS puts on a queue with raw delivery off."""
    return json.dumps({
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": stack.outputs["LaunchTopicArn"],
        "Message": body,
        "Timestamp": "2026-10-12T14:05:01.000Z",
    })


def send(stack, body: str) -> str:
    """Send a body straight to LaunchQueue; return its message id."""
    return stack.client("sqs").send_message(QueueUrl=stack.outputs["LaunchQueueUrl"], MessageBody=body)["MessageId"]


def wait_for_intake(stack, timeout_seconds: float = 60) -> None:
    """Wait until StartValidation has handled every message on LaunchQueue."""
    if not wait_until_empty(stack.client("sqs"), stack.outputs["LaunchQueueUrl"], time.monotonic() + timeout_seconds):
        raise AssertionError(f"LaunchQueue still holds messages after {timeout_seconds} s")


def rejections(stack) -> dict[str, str]:
    """Return {message id: rejection reason} for the dead-letter queue."""
    return dead_letters(stack.client("sqs"), stack.outputs["LaunchDeadLetterQueueUrl"])


def records_for_instance(stack, instance_id: str) -> list[dict]:
    """Scan ResultsTable for the verdict records of one instance."""
    deserializer = TypeDeserializer()
    paginator = stack.client("dynamodb").get_paginator("scan")
    records = []
    for page in paginator.paginate(TableName=stack.outputs["ResultsTableName"], ConsistentRead=True):
        for item in page["Items"]:
            record = {key: deserializer.deserialize(value) for key, value in item.items()}
            if record.get("instance_id") == instance_id and "verdict" in record:
                records.append(record)
    return records


def notifications_for_instance(inbox, instance_id: str) -> list[dict]:
    inbox.drain()
    return [n for n in inbox.received if json.loads(n["Message"]).get("instance_id") == instance_id]


def executions_named(stack, prefix: str) -> list[dict]:
    paginator = stack.client("stepfunctions").get_paginator("list_executions")
    pages = paginator.paginate(stateMachineArn=stack.outputs["ValidationStateMachineArn"])
    return [execution for page in pages for execution in page["executions"] if execution["name"].startswith(prefix)]


def logged_message_outcomes(log_path: Path) -> dict[str, str]:
    """Return {SQS message id: log message} from StartValidation's structured log lines."""
    outcomes = {}
    for line in log_path.read_text(errors="replace").splitlines():
        _, _, text = line.partition("] ")
        if not text.startswith("{"):
            continue
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue
        if entry.get("message_id"):
            outcomes[entry["message_id"]] = entry.get("message")
    return outcomes


def wait_for_execution_until(stack, name: str, condition, what: str, timeout_seconds: float = 60) -> None:
    """Poll the execution until ``condition(stepfunctions, arn)`` holds; a missing execution counts as not yet."""
    from migration_validator_cli.local.session import execution_arn

    stepfunctions = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if condition(stepfunctions, execution_arn(stack, name)):
                return
        except stepfunctions.exceptions.ExecutionDoesNotExist:
            pass
        time.sleep(0.1)
    raise AssertionError(f"execution {name} did not {what} within {timeout_seconds} s")
