"""Drive the local stack as an operator would: publish a launch, wait for its verdict."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from migration_validator.launches import Launch, execution_name, read_message

from .stack import LocalStack


class ExecutionNotFinished(Exception):
    """An execution did not appear or did not finish within the wait."""

    def __init__(self, execution_name: str, waited_seconds: float, status: str | None) -> None:
        super().__init__(f"execution {execution_name} not finished after {waited_seconds:.0f} s (status: {status or 'not started'})")
        self.execution_name = execution_name


@dataclass(frozen=True)
class Validation:
    execution_arn: str
    execution: dict
    record: dict | None
    notifications: list[dict]


def plain_launch_message(instance_id: str, suite: str | None = None, wave: str | None = None) -> str:
    """Return a plain launch message with a fresh request id, as `migration-validator validate` sends it."""
    message = {"instance_id": instance_id, "request_id": str(uuid.uuid4())}
    if suite:
        message["suite"] = suite
    if wave:
        message["wave"] = wave
    return json.dumps(message)


def execution_arn(stack: LocalStack, name: str) -> str:
    state_machine_arn = stack.outputs["ValidationStateMachineArn"]
    return state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name


def launch_of(body: str) -> Launch:
    reading = read_message(body)
    if not isinstance(reading, Launch):
        raise ValueError(f"not a launch message: {reading.reason}")
    return reading


def wait_for_execution(stack: LocalStack, name: str, timeout_seconds: float = 180) -> dict:
    """Wait until the execution exists and has finished; return DescribeExecution's response."""
    stepfunctions = stack.client("stepfunctions")
    arn = execution_arn(stack, name)
    started = time.monotonic()
    status = None
    while time.monotonic() - started < timeout_seconds:
        try:
            execution = stepfunctions.describe_execution(executionArn=arn)
        except stepfunctions.exceptions.ExecutionDoesNotExist:
            execution = None
        status = execution and execution["status"]
        if status and status != "RUNNING":
            return execution
        time.sleep(0.3)
    raise ExecutionNotFinished(name, timeout_seconds, status)


def read_record(stack: LocalStack, name: str) -> dict | None:
    from boto3.dynamodb.types import TypeDeserializer

    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["ResultsTableName"], Key={"execution_name": {"S": name}}, ConsistentRead=True
    ).get("Item")
    if not item:
        return None
    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


class VerdictInbox:
    """An SQS queue subscribed to VerdictTopic, as a subscriber of the verdicts would have."""

    def __init__(self, stack: LocalStack, name: str = "verdict-inbox") -> None:
        self._sqs = stack.client("sqs")
        self.queue_url = self._sqs.create_queue(QueueName=f"{stack.settings.stack_name}-{name}")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.client("sns").subscribe(TopicArn=stack.outputs["VerdictTopicArn"], Protocol="sqs", Endpoint=queue_arn)
        self.received: list[dict] = []

    def drain(self) -> list[dict]:
        """Move every waiting notification into ``received``; return them as SNS envelopes."""
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return self.received
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def for_execution(self, name: str) -> list[dict]:
        self.drain()
        return [n for n in self.received if json.loads(n["Message"]).get("execution_name") == name]


def validate_via_topic(stack: LocalStack, inbox: VerdictInbox, body: str, timeout_seconds: float = 180) -> Validation:
    """Publish a launch message to LaunchTopic and wait for its execution, record and notification."""
    name = execution_name(launch_of(body))
    stack.client("sns").publish(TopicArn=stack.outputs["LaunchTopicArn"], Message=body)
    execution = wait_for_execution(stack, name, timeout_seconds)

    # The notification is the last thing published before TagVerdict; allow a moment for the
    # stopped-execution rule, which publishes after the execution has ended.
    deadline = time.monotonic() + 10
    notifications = inbox.for_execution(name)
    while not notifications and time.monotonic() < deadline:
        time.sleep(0.3)
        notifications = inbox.for_execution(name)
    return Validation(execution["executionArn"], execution, read_record(stack, name), notifications)
