"""SQS event source poller against moto's in-process SQS and the real local Invoke endpoint.

moto's mock intercepts only requests to AWS host names, so the Lambda client below,
pointed at the endpoint on 127.0.0.1, sends real HTTP without any passthrough setting.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from migration_validator_cli.local.invoke import FunctionSpec, LambdaInvokeEndpoint
from migration_validator_cli.local.poller import PollResult, SqsEventSourcePoller, parse_batch_item_failures

SAMPLE_HANDLERS = Path(__file__).parent / "sample_handlers"
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, read_timeout=60)


@pytest.fixture
def event_log(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
def endpoint(event_log: Path) -> Iterator[LambdaInvokeEndpoint]:
    consumer = FunctionSpec("consumer", "sqs_consumer.handler", SAMPLE_HANDLERS, {"EVENT_LOG_PATH": str(event_log)}, 10)
    with LambdaInvokeEndpoint([consumer], {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}) as running:
        yield running


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def lambda_client(endpoint: LambdaInvokeEndpoint) -> Any:
    return boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1", config=CLIENT_CONFIG)


def create_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def queue(sqs: Any) -> tuple[str, str]:
    return create_queue(sqs, "validation-requests", VisibilityTimeout="60")


def make_poller(sqs: Any, queue: tuple[str, str], lambda_client: Any, **options: Any) -> SqsEventSourcePoller:
    options.setdefault("retry_visibility_seconds", 0)
    url, arn = queue
    return SqsEventSourcePoller(sqs, url, arn, "consumer", lambda_client, **options)


def send(sqs: Any, queue_url: str, *bodies: str) -> list[str]:
    return [sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"] for body in bodies]


def read_events(event_log: Path) -> list[dict[str, Any]]:
    if not event_log.exists():
        return []
    return [json.loads(line) for line in event_log.read_text().splitlines()]


def messages_left(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def poll_until_received(poller: SqsEventSourcePoller) -> PollResult:
    """Poll until a batch arrives; moto makes a message visible again only after the current millisecond."""
    while True:
        result = poller.poll_once()
        if result.received_ids:
            return result
        time.sleep(0.01)


@pytest.mark.timeout(30)
def test_event_matches_lambda_sqs_format(sqs: Any, queue: tuple[str, str], lambda_client: Any, event_log: Path) -> None:
    url, arn = queue
    message_id = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"instance_id": "i-0abc"}',
        MessageAttributes={
            "wave": {"DataType": "String", "StringValue": "3"},
            "attempt": {"DataType": "Number", "StringValue": "2"},
            "token": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )["MessageId"]

    make_poller(sqs, queue, lambda_client).poll_once()

    [event] = read_events(event_log)
    [record] = event["Records"]
    assert set(record) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert record["messageId"] == message_id
    assert record["body"] == '{"instance_id": "i-0abc"}'
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["wave"] == {
        "stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert record["messageAttributes"]["attempt"]["dataType"] == "Number"
    assert record["messageAttributes"]["token"]["binaryValue"] == "AP8="


@pytest.mark.timeout(30)
def test_success_deletes_whole_batch(sqs: Any, queue: tuple[str, str], lambda_client: Any, event_log: Path) -> None:
    url, _ = queue
    sent = send(sqs, url, "a", "b", "c")

    result = make_poller(sqs, queue, lambda_client).poll_once()

    assert sorted(result.deleted_ids) == sorted(sent)
    assert result.batch_error is None
    assert len(read_events(event_log)) == 1
    assert messages_left(sqs, url) == 0


@pytest.mark.timeout(30)
def test_empty_queue_invokes_nothing(sqs: Any, queue: tuple[str, str], lambda_client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    result = make_poller(sqs, queue, lambda_client).poll_once()

    assert result == PollResult((), (), (), None)
    assert endpoint.invocations == []


@pytest.mark.timeout(30)
def test_batch_item_failures_retry_only_those(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    ok_first, failed, ok_second = send(sqs, url, "ok-1", "fail-2", "ok-3")
    poller = make_poller(sqs, queue, lambda_client)

    result = poller.poll_once()

    assert sorted(result.deleted_ids) == sorted([ok_first, ok_second])
    assert result.retried_ids == (failed,)
    retry = poll_until_received(poller)
    assert retry.received_ids == (failed,)


@pytest.mark.timeout(30)
def test_function_error_retries_whole_batch(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    sent = send(sqs, url, "ok-1", "raise")

    result = make_poller(sqs, queue, lambda_client).poll_once()

    assert result.deleted_ids == ()
    assert sorted(result.retried_ids) == sorted(sent)
    assert "RuntimeError: consumer failed on purpose" in (result.batch_error or "")
    assert messages_left(sqs, url) == 2


@pytest.mark.timeout(30)
def test_unknown_item_identifier_fails_batch(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    send(sqs, url, "ok-1", "bad-id")

    result = make_poller(sqs, queue, lambda_client).poll_once()

    assert result.deleted_ids == ()
    assert "not-a-message-id" in (result.batch_error or "")


@pytest.mark.timeout(30)
def test_item_failures_ignored_when_not_reported(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    sent = send(sqs, url, "ok-1", "fail-2")

    result = make_poller(sqs, queue, lambda_client, report_batch_item_failures=False).poll_once()

    assert sorted(result.deleted_ids) == sorted(sent)
    assert messages_left(sqs, url) == 0


@pytest.mark.timeout(30)
def test_retry_visibility_makes_failures_visible(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    [failed] = send(sqs, url, "fail-1")
    poller = make_poller(sqs, queue, lambda_client, retry_visibility_seconds=0)

    poller.poll_once()

    assert poll_until_received(poller).received_ids == (failed,)


@pytest.mark.timeout(30)
def test_no_retry_visibility_keeps_queue_timeout(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    send(sqs, url, "fail-1")
    poller = make_poller(sqs, queue, lambda_client, retry_visibility_seconds=None)

    poller.poll_once()

    assert poller.poll_once().received_ids == ()


@pytest.mark.timeout(30)
def test_failing_message_redriven_to_dead_letter_queue(sqs: Any, lambda_client: Any) -> None:
    dlq_url, dlq_arn = create_queue(sqs, "validation-requests-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    queue = create_queue(sqs, "validation-requests", VisibilityTimeout="60", RedrivePolicy=redrive)
    ok_first, failed, ok_second = send(sqs, queue[0], "ok-1", "fail-always", "ok-3")
    poller = make_poller(sqs, queue, lambda_client)

    receives: Counter[str] = Counter()
    deletes: Counter[str] = Counter()
    while messages_left(sqs, dlq_url) == 0:
        result = poller.poll_once()
        receives.update(result.received_ids)
        deletes.update(result.deleted_ids)
        time.sleep(0.01)

    assert receives == {ok_first: 1, failed: 3, ok_second: 1}
    assert deletes == {ok_first: 1, ok_second: 1}
    assert messages_left(sqs, queue[0]) == 0
    [dead] = sqs.receive_message(QueueUrl=dlq_url, MessageSystemAttributeNames=["All"])["Messages"]
    assert dead["MessageId"] == failed
    assert dead["Body"] == "fail-always"


@pytest.mark.timeout(30)
def test_batching_window_gathers_beyond_ten(sqs: Any, queue: tuple[str, str], lambda_client: Any, event_log: Path) -> None:
    url, _ = queue
    sent = send(sqs, url, *[f"ok-{index}" for index in range(15)])

    result = make_poller(sqs, queue, lambda_client, batch_size=15, maximum_batching_window_seconds=1).poll_once()

    assert sorted(result.deleted_ids) == sorted(sent)
    assert len(read_events(event_log)) == 1


@pytest.mark.timeout(30)
def test_batch_size_limits_batch(sqs: Any, queue: tuple[str, str], lambda_client: Any) -> None:
    url, _ = queue
    send(sqs, url, "ok-1", "ok-2", "ok-3")

    result = make_poller(sqs, queue, lambda_client, batch_size=2).poll_once()

    assert len(result.received_ids) == 2


@pytest.mark.timeout(30)
def test_unreachable_endpoint_retries_batch(sqs: Any, queue: tuple[str, str]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{closed_port}", region_name="us-east-1", config=CLIENT_CONFIG)
    url, _ = queue
    [sent] = send(sqs, url, "ok-1")

    result = make_poller(sqs, queue, client).poll_once()

    assert result.retried_ids == (sent,)
    assert (result.batch_error or "").startswith("Invoke failed")


@pytest.mark.timeout(30)
def test_background_poller_drains_queue(sqs: Any, queue: tuple[str, str], lambda_client: Any, event_log: Path) -> None:
    url, _ = queue
    sent = send(sqs, url, *[f"ok-{index}" for index in range(5)])

    with make_poller(sqs, queue, lambda_client, idle_wait_seconds=0.05):
        while messages_left(sqs, url):
            time.sleep(0.05)

    processed = [record["messageId"] for event in read_events(event_log) for record in event["Records"]]
    assert sorted(processed) == sorted(sent)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size 0 is invalid"),
        ({"batch_size": 11}, "needs maximum_batching_window_seconds"),
        ({"maximum_batching_window_seconds": 301}, "maximum_batching_window_seconds 301 is invalid"),
        ({"retry_visibility_seconds": -1}, "retry_visibility_seconds -1 is invalid"),
    ],
)
def test_invalid_settings_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SqsEventSourcePoller(None, "url", "arn", "consumer", None, **options)


@pytest.mark.parametrize(
    ("payload", "failed", "batch_fails"),
    [
        (b"", set(), False),
        (b"null", set(), False),
        (b"{}", set(), False),
        (b'{"batchItemFailures": null}', set(), False),
        (b'{"batchItemFailures": []}', set(), False),
        (b'{"batchItemFailures": [{"itemIdentifier": "m-2"}]}', {"m-2"}, False),
        (b"{not json", {"m-1", "m-2"}, True),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', {"m-1", "m-2"}, True),
        (b'{"batchItemFailures": [{"itemIdentifier": null}]}', {"m-1", "m-2"}, True),
        (b'{"batchItemFailures": [{"itemId": "m-2"}]}', {"m-1", "m-2"}, True),
        (b'{"batchItemFailures": [{"itemIdentifier": "m-9"}]}', {"m-1", "m-2"}, True),
        (b'{"batchItemFailures": "m-2"}', {"m-1", "m-2"}, True),
    ],
)
def test_partial_batch_response_rules(payload: bytes, failed: set[str], batch_fails: bool) -> None:
    failed_ids, batch_error = parse_batch_item_failures(payload, ["m-1", "m-2"])

    assert failed_ids == failed
    assert (batch_error is not None) == batch_fails
