"""Local stand-in for Lambda's SQS event source mapping.

moto 5.2.5's own mapping invokes functions of its own (Docker-based) Lambda backend from
inside SendMessage, one message per event with fixed attributes. So the local stack polls
the queue itself and invokes the consumer through the Lambda Invoke API, as the mapping
does: batches of up to ``batch_size`` messages, the Lambda SQS event format, deletion of
processed messages, partial batch responses (``batchItemFailures``).

Redrive to the dead-letter queue is left to SQS: a message whose receive count reached
the RedrivePolicy's ``maxReceiveCount`` moves to the dead-letter queue on the next
ReceiveMessage. moto 5.2.5 does this in ``SQSBackend.receive_message``, so the poller
needs no redrive logic of its own.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

# Limits of an SQS event source mapping, from the Lambda CreateEventSourceMapping documentation.
MAX_BATCH_SIZE = 10_000
MAX_BATCHING_WINDOW_SECONDS = 300
# SQS ReceiveMessage and the batch APIs take at most 10 messages per call.
SQS_BATCH_LIMIT = 10
# A synchronous invocation's request payload quota.
MAX_EVENT_BYTES = 6 * 1024 * 1024
MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200


@dataclass(frozen=True)
class PollResult:
    """One receive, invoke and delete cycle. ``batch_error`` is the reason the whole batch failed, if it did."""

    received_ids: tuple[str, ...]
    deleted_ids: tuple[str, ...]
    retried_ids: tuple[str, ...]
    batch_error: str | None


def build_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """Build the event Lambda passes to an SQS consumer from ReceiveMessage output."""
    return {"Records": [build_sqs_record(message, queue_arn, region) for message in messages]}


def build_sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: convert_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def convert_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """Convert one SQS API message attribute to the event's form: camelCase keys, binary as base64."""
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    converted["stringListValues"] = list(value.get("StringListValues", []))
    converted["binaryListValues"] = [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])]
    converted["dataType"] = value["DataType"]
    return converted


def parse_batch_item_failures(payload: bytes, message_ids: list[str]) -> tuple[set[str], str | None]:
    """Read a partial batch response and return (failed message ids, reason the whole batch failed).

    As on AWS, an empty or null response or ``batchItemFailures`` means every message
    succeeded. Invalid JSON, or an itemIdentifier that is missing, empty, null or not a
    message of this batch, fails the whole batch.
    """
    text = payload.decode("utf-8", errors="replace").strip()
    if not text:
        return set(), None
    try:
        response = json.loads(text)
    except json.JSONDecodeError as error:
        return set(message_ids), f"the function response is not valid JSON: {error}"

    if response is None:
        return set(), None
    if not isinstance(response, dict):
        # NOTE: AWS does not document how it reads a response that is JSON but not an object, so failing the batch is a guess.
        return set(message_ids), f"the function response is {type(response).__name__}, not an object with batchItemFailures"

    failures = response.get("batchItemFailures")
    if failures is None:
        return set(), None
    if not isinstance(failures, list):
        return set(message_ids), "batchItemFailures is not a list"

    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return set(message_ids), f"batchItemFailures entry {item!r} has no itemIdentifier"
        if identifier not in message_ids:
            return set(message_ids), f"itemIdentifier {identifier!r} is not a message id of this batch"
        failed.add(identifier)
    return failed, None


class SqsEventSourcePoller:
    """Polls one queue and invokes one function with its messages, like an SQS event source mapping.

    One deviation from AWS: messages that were not processed become visible again after
    ``retry_visibility_seconds`` (set with ChangeMessageVisibility), not after the queue's
    visibility timeout, so local retries come quickly. ``None`` keeps the queue's timeout.

    ``lambda_client`` is a boto3 Lambda client. Its read timeout must exceed the function's
    timeout and its retries should be off, because a retried Invoke runs the batch again.
    """

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        lambda_client: Any,
        *,
        batch_size: int = 10,
        maximum_batching_window_seconds: float = 0,
        report_batch_item_failures: bool = True,
        retry_visibility_seconds: int | None = 1,
        region: str = "us-east-1",
        idle_wait_seconds: float = 0.2,
    ) -> None:
        check_settings(batch_size, maximum_batching_window_seconds, retry_visibility_seconds)
        self._sqs = sqs_client
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function_name = function_name
        self._lambda = lambda_client
        self._batch_size = batch_size
        self._window_seconds = maximum_batching_window_seconds
        self._report_batch_item_failures = report_batch_item_failures
        self._retry_visibility_seconds = retry_visibility_seconds
        self._region = region
        self._idle_wait_seconds = idle_wait_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Poll in a background thread until stop()."""
        if self._thread is not None:
            raise RuntimeError(f"the poller for {self.queue_arn} is already running")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"sqs-poller-{self.function_name}", daemon=True)
        self._thread.start()
        logger.info("Polling %s for %s", self.queue_arn, self.function_name)

    def stop(self) -> None:
        """Stop polling and wait for the batch in progress to finish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        logger.info("Stopped polling %s for %s", self.queue_arn, self.function_name)

    def __enter__(self) -> SqsEventSourcePoller:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def poll_once(self) -> PollResult:
        """Receive one batch, invoke the function with it, and delete what it processed."""
        messages = self._receive_batch()
        if not messages:
            return PollResult((), (), (), None)

        message_ids = [message["MessageId"] for message in messages]
        event = build_sqs_event(messages, self.queue_arn, self._region)
        failed_ids, batch_error = self._invoke(event, message_ids)

        processed = [message for message in messages if message["MessageId"] not in failed_ids]
        failed = [message for message in messages if message["MessageId"] in failed_ids]
        self._delete(processed)
        if self._retry_visibility_seconds is not None:
            self._change_visibility(failed, self._retry_visibility_seconds)

        return PollResult(
            received_ids=tuple(message_ids),
            deleted_ids=tuple(message["MessageId"] for message in processed),
            retried_ids=tuple(message["MessageId"] for message in failed),
            batch_error=batch_error,
        )

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = self.poll_once()
            except (BotoCoreError, ClientError) as error:
                logger.error("Polling %s for %s failed, retrying in 1 s: %s", self.queue_arn, self.function_name, error)
                self._stopping.wait(1.0)
                continue
            if not result.received_ids or result.batch_error:
                self._stopping.wait(self._idle_wait_seconds)

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Receive up to batch_size messages within the batching window, within the event size quota."""
        deadline = time.monotonic() + self._window_seconds
        messages: list[dict[str, Any]] = []
        while len(messages) < self._batch_size:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_BATCH_LIMIT, self._batch_size - len(messages)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = response.get("Messages", [])
            messages.extend(received)

            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not received and self._stopping.wait(min(0.1, remaining)):
                break

        return self._fit_event_quota(messages)

    def _fit_event_quota(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop messages that would push the event over the invoke payload quota, and make them visible again at once."""
        kept: list[dict[str, Any]] = []
        size = len(json.dumps({"Records": []}))
        for index, message in enumerate(messages):
            record_size = len(json.dumps(build_sqs_record(message, self.queue_arn, self._region))) + 1
            if kept and size + record_size > MAX_EVENT_BYTES:
                self._change_visibility(messages[index:], 0)
                break
            kept.append(message)
            size += record_size
        return kept

    def _invoke(self, event: dict[str, Any], message_ids: list[str]) -> tuple[set[str], str | None]:
        try:
            response = self._lambda.invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
            )
        except (BotoCoreError, ClientError) as error:
            logger.error("Invoking %s with %d messages from %s failed: %s", self.function_name, len(message_ids), self.queue_arn, error)
            return set(message_ids), f"Invoke failed: {error}"

        payload = response["Payload"].read()
        if response.get("FunctionError"):
            reason = f"{self.function_name} failed: {describe_function_error(payload)}"
            logger.warning("%s, so %d messages from %s will be retried", reason, len(message_ids), self.queue_arn)
            return set(message_ids), reason
        if not self._report_batch_item_failures:
            return set(), None

        failed, batch_error = parse_batch_item_failures(payload, message_ids)
        if batch_error:
            logger.warning(
                "Invalid partial batch response from %s, so all %d messages will be retried: %s",
                self.function_name,
                len(message_ids),
                batch_error,
            )
        elif failed:
            logger.info("%s reported %d of %d messages as failed: %s", self.function_name, len(failed), len(message_ids), sorted(failed))
        return failed, batch_error

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for chunk in chunks(messages, SQS_BATCH_LIMIT):
            entries = [{"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]} for index, message in enumerate(chunk)]
            response = self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                message_id = chunk[int(failure["Id"])]["MessageId"]
                logger.warning("Deleting message %s from %s failed: %s", message_id, self.queue_arn, failure.get("Message"))

    def _change_visibility(self, messages: list[dict[str, Any]], seconds: int) -> None:
        for chunk in chunks(messages, SQS_BATCH_LIMIT):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": seconds}
                for index, message in enumerate(chunk)
            ]
            response = self._sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                message_id = chunk[int(failure["Id"])]["MessageId"]
                logger.warning(
                    "Setting the visibility of message %s in %s failed: %s", message_id, self.queue_arn, failure.get("Message")
                )


def describe_function_error(payload: bytes) -> str:
    """Return ``errorType: errorMessage`` from a Lambda error payload, or the raw payload."""
    try:
        error = json.loads(payload)
        return f"{error['errorType']}: {error['errorMessage']}"
    except (ValueError, KeyError, TypeError):
        return payload[:500].decode("utf-8", errors="replace")


def chunks(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def check_settings(batch_size: int, window_seconds: float, retry_visibility_seconds: int | None) -> None:
    """Reject settings an SQS event source mapping would reject, with the allowed range."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size {batch_size} is invalid: use 1 to {MAX_BATCH_SIZE}")
    if not 0 <= window_seconds <= MAX_BATCHING_WINDOW_SECONDS:
        raise ValueError(
            f"maximum_batching_window_seconds {window_seconds} is invalid: use 0 to {MAX_BATCHING_WINDOW_SECONDS}"
        )
    if batch_size > SQS_BATCH_LIMIT and window_seconds < 1:
        raise ValueError(
            f"batch_size {batch_size} needs maximum_batching_window_seconds of at least 1: "
            f"batches above {SQS_BATCH_LIMIT} messages are gathered over a batching window"
        )
    if retry_visibility_seconds is not None and not 0 <= retry_visibility_seconds <= MAX_VISIBILITY_TIMEOUT_SECONDS:
        raise ValueError(
            f"retry_visibility_seconds {retry_visibility_seconds} is invalid: use None or 0 to {MAX_VISIBILITY_TIMEOUT_SECONDS}"
        )
