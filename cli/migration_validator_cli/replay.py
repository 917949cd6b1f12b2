"""`migration-validator local replay FILE...`: send message files through the local stack.

Each file's content goes to LaunchQueue as one message body, and the command prints one JSON
line per file with what the stack did with it:

- ``started``: StartValidation started an execution for it;
- ``duplicate``: the execution of its launch existed already, before this file or from an
  earlier file of the same run, so nothing new started;
- ``rejected``: the message ended in the dead-letter queue; ``reason`` is its
  ``rejection_reason`` attribute. A file SQS cannot carry (empty, not UTF-8) is not sent
  and is reported as rejected too;
- ``ignored``: StartValidation read it, deleted it and started nothing; ``reason`` gives the cause.

For started and duplicate files it waits, up to the timeout for the whole run, for the
execution to finish and prints its verdict.

It uses the stack of `migration-validator local start` when that stack's state file exists, so
its instances and MGN jobs are there. Otherwise it starts a local stack for this run only and
stops it at the end. That stack has no instances and no MGN jobs, so a launch that names an
instance ends ERROR (InstanceNotFound) and a successful MGN launch retries until the timeout.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, EndpointConnectionError

from migration_validator.launches import Ignored, Launch, Rejected, execution_name, read_message

from .local.session import execution_arn, read_record
from .local.stack import LocalSettings, LocalStack
from . import local_command
from .local_command import RunningStack
from .paths import LOCAL_STATE_DIR

DEFAULT_TIMEOUT_SECONDS = 180
POLL_SECONDS = 0.3


@dataclass
class Replayed:
    """One file of the run: what was sent and what the stack did with it."""

    file: str
    body: str | None
    reading: Launch | Ignored | Rejected | None = None
    message_id: str | None = None
    outcome: str | None = None
    execution_name: str | None = None
    verdict: str | None = None
    reason: str | None = None
    timed_out: bool = False

    def line(self) -> dict:
        return {"file": self.file, "outcome": self.outcome, "execution_name": self.execution_name, "verdict": self.verdict, "reason": self.reason}


def run_replay(files: list[str], timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """Replay the files on the running local stack, or on one started for this run; print one JSON line per file."""
    stack = RunningStack.from_state_file()
    if stack is not None:
        try:
            stack.client("sqs").get_queue_attributes(QueueUrl=stack.outputs["LaunchQueueUrl"], AttributeNames=["QueueArn"])
        except EndpointConnectionError:
            print(
                f"migration-validator: the local stack in {local_command.STATE_FILE} does not answer at {stack.endpoint_url}: "
                "start it with `migration-validator local start`, or delete the file to replay on a stack started for this run",
                file=sys.stderr,
            )
            return 2
        return print_replay(stack, files, timeout_seconds)

    workdir = LOCAL_STATE_DIR / "replay"
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "functions.log"
    print(f"no local stack running; starting one for this run, function logs in {log_path}", file=sys.stderr)
    with open(log_path, "w") as log_sink:
        # moto's interpreter logs every failed execution; those lines belong with the function logs.
        logging.getLogger().addHandler(logging.StreamHandler(log_sink))
        with LocalStack(settings=LocalSettings(stack_name="mv-replay"), log_sink=log_sink) as local_stack:
            return print_replay(RunningStack.of(local_stack), files, timeout_seconds)


def print_replay(stack: RunningStack, files: list[str], timeout_seconds: float) -> int:
    replayed = replay(stack, files, timeout_seconds)
    for entry in replayed:
        print(json.dumps(entry.line()))
    incomplete = [entry for entry in replayed if entry.message_id is None or entry.timed_out]
    return 1 if incomplete else 0


def replay(stack: RunningStack, files: list[str], timeout_seconds: float) -> list[Replayed]:
    """Send every file, wait until the launch queue is empty, then read each file's outcome."""
    deadline = time.monotonic() + timeout_seconds
    sqs = stack.client("sqs")
    replayed = [read_file(file) for file in files]

    names_seen: set[str] = set()
    for entry in replayed:
        if entry.body is None:
            continue
        if isinstance(entry.reading, Launch):
            entry.execution_name = execution_name(entry.reading)
            if entry.execution_name in names_seen or execution_exists(stack, entry.execution_name):
                entry.outcome = "duplicate"
            names_seen.add(entry.execution_name)
        try:
            entry.message_id = sqs.send_message(QueueUrl=stack.outputs["LaunchQueueUrl"], MessageBody=entry.body)["MessageId"]
        except ClientError as error:
            entry.outcome, entry.reason = "rejected", f"not sent: SQS rejected the body: {error}"

    wait_until_empty(sqs, stack.outputs["LaunchQueueUrl"], deadline)
    dead = dead_letters(sqs, stack.outputs["LaunchDeadLetterQueueUrl"])
    for entry in replayed:
        if entry.message_id is not None:
            settle(stack, entry, dead, deadline)
    return replayed


def read_file(file: str) -> Replayed:
    try:
        body = Path(file).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return Replayed(file=file, body=None, outcome="rejected", reason=f"not sent: cannot read the file: {error}")
    return Replayed(file=file, body=body, reading=read_message(body))


def settle(stack: RunningStack, entry: Replayed, dead: dict[str, str], deadline: float) -> None:
    """Fill in the outcome, verdict and reason of a sent file."""
    if entry.message_id in dead:
        entry.outcome, entry.reason, entry.execution_name = "rejected", dead[entry.message_id], None
        return
    if isinstance(entry.reading, Ignored):
        entry.outcome, entry.reason = "ignored", entry.reading.reason
        return
    if isinstance(entry.reading, Rejected) or not execution_exists(stack, entry.execution_name):
        # StartValidation would have dead-lettered or started it; the run timed out before it did.
        entry.outcome, entry.timed_out = None, True
        entry.reason = "not handled within the timeout; see the StartValidation log"
        return
    entry.outcome = entry.outcome or "started"
    execution = wait_for_end(stack, entry.execution_name, deadline)
    if execution is None:
        entry.timed_out = True
        entry.reason = "execution not finished within the timeout; `migration-validator executions show` follows it"
        return
    record = read_record(stack, entry.execution_name) or {}
    entry.verdict = record.get("verdict")
    entry.reason = record.get("reason") or no_verdict_reason(execution)


def no_verdict_reason(execution: dict) -> str:
    """Explain an execution that ended without a record, such as one that found its launch already validated."""
    cause = (json.loads(execution.get("output") or "{}").get("error") or {}).get("Cause")
    return f"no verdict recorded ({execution['status']}): {cause}" if cause else f"no verdict recorded ({execution['status']})"


def execution_exists(stack: RunningStack, name: str) -> bool:
    return describe(stack, name) is not None


def describe(stack: RunningStack, name: str) -> dict | None:
    stepfunctions = stack.client("stepfunctions")
    try:
        return stepfunctions.describe_execution(executionArn=execution_arn(stack, name))
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        return None


def wait_for_end(stack: RunningStack, name: str, deadline: float) -> dict | None:
    while True:
        execution = describe(stack, name)
        if execution and execution["status"] != "RUNNING":
            return execution
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL_SECONDS)


def wait_until_empty(sqs, queue_url: str, deadline: float) -> bool:
    """Wait until no message is waiting, in flight or delayed on the queue; return False if the deadline passed first."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(int(attributes.get(name, 0)) == 0 for name in names):
            return True
        time.sleep(POLL_SECONDS)
    return False


def dead_letters(sqs, queue_url: str) -> dict[str, str]:
    """Return {message id: reason} for the messages in the dead-letter queue, leaving them there.

    Messages that StartValidation rejected carry ``original_message_id`` and ``rejection_reason``;
    messages that SQS moved after maxReceiveCount failed deliveries keep their message id.
    """
    found: dict[str, str] = {}
    received = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
        if not messages:
            break
        received.extend(messages)
    for message in received:
        attributes = message.get("MessageAttributes", {})
        original = attributes.get("original_message_id", {}).get("StringValue")
        reason = attributes.get("rejection_reason", {}).get("StringValue")
        if original and reason:
            found[original] = reason
        else:
            found[message["MessageId"]] = "moved to the dead-letter queue after repeated failed deliveries; see the StartValidation log"
    # Make them visible again, so the queue keeps them for the next reader.
    for start in range(0, len(received), 10):
        entries = [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0} for index, message in enumerate(received[start : start + 10])]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
    return found
