"""AWS limits the product must stay within, on every write path, against moto's DynamoDB and SNS.

DynamoDB items are at most 400 KB and take numbers only as Decimal; SNS messages are at most
256 KB; attribute names that are DynamoDB reserved words need placeholders in expressions.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

from migration_validator import aws, notify, results
from migration_validator.targets import Target

FUNCTIONS_PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "migration_validator"
EXPRESSION_ARGUMENTS = {"UpdateExpression", "ConditionExpression", "KeyConditionExpression", "FilterExpression", "ProjectionExpression"}
# Step Functions rejects state input or output over 256 KB.
MAX_STATE_BYTES = 256 * 1024


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.client.cache_clear()
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="results",
            KeySchema=[{"AttributeName": "execution_name", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "execution_name", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("RESULTS_TABLE", "results")
        topic_arn = boto3.client("sns").create_topic(Name="verdicts")["TopicArn"]
        monkeypatch.setenv("VERDICT_TOPIC_ARN", topic_arn)
        yield dynamodb
    aws.client.cache_clear()


def big_checks(count: int, output_bytes: int, message_chars: int) -> list[dict]:
    return [
        {
            "check_id": f"check-{index:04d}",
            "type": "command",
            "status": "FAILED",
            "reason": "EXIT_STATUS",
            "message": "m" * message_chars,
            "duration_ms": 12,
            "required": True,
            "stdout": "o" * output_bytes,
            "stderr": "e" * output_bytes,
            "capped": True,
        }
        for index in range(count)
    ]


def test_huge_check_list_fits_item(table):
    results.store_checks("run-1", {"suite": "web-app", "checks_total": 2000}, big_checks(2000, 4096, 2000))

    item = results.read("run-1")
    assert item["checks"], "some checks must be kept"
    assert len(json.dumps(item)) < 400_000


def test_unfitted_check_list_rejected_by_dynamodb(table):
    """The fitting above is needed: DynamoDB rejects the same checks written as they are."""
    with pytest.raises(ClientError, match="size"):
        results._update("run-2", {"checks": big_checks(200, 4096, 2000)})


def test_floats_stored_as_decimal(table):
    results.store_checks("run-3", {"duration_ms": 1.5, "nested": {"ratios": [0.25, 2.0]}}, [])

    stored = table.get_item(TableName="results", Key={"execution_name": {"S": "run-3"}})["Item"]
    assert stored["duration_ms"] == {"N": "1.5"}
    assert stored["nested"]["M"]["ratios"]["L"][0] == {"N": "0.25"}


def test_reserved_word_attributes_recorded(table):
    reserved = {"source": "mgn", "status": "x", "name": "y", "size": 3, "timestamp": "t"}

    recorded = results.record_verdict("run-4", "PASSED", "ALL_REQUIRED_PASSED", reserved)

    assert recorded.written
    assert results.read("run-4")["source"] == "mgn"


def test_expressions_use_no_bare_reserved_words():
    reserved = {word.upper() for word in ReservedKeywords.get_reserved_keywords()}
    bare = []
    for path in FUNCTIONS_PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.keyword) or node.arg not in EXPRESSION_ARGUMENTS:
                continue
            text = " ".join(part.value for part in ast.walk(node.value) if isinstance(part, ast.Constant) and isinstance(part.value, str))
            names = re.findall(r"(?<![#:\w])([A-Za-z_][A-Za-z0-9_]*)(?!\s*\()", text)
            bare.extend(f"{path.name}: {name}" for name in names if name.upper() in reserved and name.upper() not in ("SET", "REMOVE", "AND", "OR", "NOT", "ADD", "DELETE"))
    assert bare == []


def test_huge_notification_fits_sns(table):
    item = {"verdict": "FAILED", "reason": "EXIT_STATUS", "execution_name": "run-5", "checks": big_checks(20, 0, 100_000), "error_cause": "c" * 100_000}

    body = notify.encode_message(notify.build_message(item))

    assert len(body.encode()) <= notify.MAX_MESSAGE_BYTES
    assert boto3.client("sns").publish(TopicArn=aws.env("VERDICT_TOPIC_ARN"), Message=body)["MessageId"]


def test_unfitted_notification_rejected_by_sns(table):
    item = {"verdict": "FAILED", "reason": "EXIT_STATUS", "execution_name": "run-6", "checks": big_checks(20, 0, 100_000)}

    with pytest.raises(ClientError, match="too long"):
        boto3.client("sns").publish(TopicArn=aws.env("VERDICT_TOPIC_ARN"), Message=json.dumps(notify.build_message(item)))


def test_largest_target_state_fits_step_functions():
    """EC2 allows 50 tags per instance, keys of 128 and values of 256 characters; ResolveTarget returns them all."""
    tags = {f"migration-validator:{index:03d}".ljust(128, "k"): "v" * 256 for index in range(50)}
    target = Target(instance_id="i-0123456789abcdef0", address="10.0.0.1", tags=tags)

    assert len(json.dumps(target.to_state()).encode()) < MAX_STATE_BYTES

