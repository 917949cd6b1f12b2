"""Start one execution per launch, and move rejected messages to the dead-letter queue."""

import json

from botocore.exceptions import ClientError

from .aws import client, env
from .launches import Launch, execution_input, execution_name
from .observability import logger

# SQS message attribute values are limited to 256 KB in total with the body; reasons are short.
MAX_REASON_CHARS = 1_000


def start_validation(launch: Launch, attempt: int = 1) -> tuple[str, bool]:
    """Start the launch's execution; return (execution name, started).

    ``started`` is False when an execution of that name exists already: a duplicate delivery
    of the same launch maps to the same name and is therefore handled once.
    """
    name = execution_name(launch, attempt)
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=env("STATE_MACHINE_ARN"),
            name=name,
            input=execution_input(launch, attempt),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return name, False
    return name, True


def dead_letter(message_id: str, body: str, reason: str) -> None:
    """Send a rejected message to the dead-letter queue with the reason as a message attribute."""
    client("sqs").send_message(
        QueueUrl=env("LAUNCH_DEAD_LETTER_QUEUE_URL"),
        MessageBody=body or json.dumps(None),
        MessageAttributes={
            "rejection_reason": {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]},
            "original_message_id": {"DataType": "String", "StringValue": message_id},
        },
    )
    logger.warning("launch message rejected", extra={"message_id": message_id, "reason": reason})
