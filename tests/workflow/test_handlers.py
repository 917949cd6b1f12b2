"""Each handler on its own, reached over the Lambda Invoke API of the local stack."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from migration_validator.tags import STATUS, SUITE
from migration_validator_cli.local.session import read_record

pytestmark = pytest.mark.timeout(120)


def invoke(stack, logical_id: str, event: dict) -> tuple[dict, str | None]:
    """Invoke a function by its template logical id; return (payload, error type or None)."""
    name = stack.stack.functions[logical_id].name
    response = stack.lambda_client().invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    return payload, (payload.get("errorType") if response.get("FunctionError") else None)


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def plain_launch(instance_id: str, **fields) -> dict:
    return {"source": "plain", "instance_id": instance_id, "launch_failed": False, "suite": None, "wave": None, **fields}


def recorded_state(execution_name: str, instance_id: str, verdict: str = "PASSED") -> dict:
    return {
        "execution_name": execution_name,
        "attempt": 1,
        "launch": plain_launch(instance_id, wave="wave-2"),
        "target": {"instance_id": instance_id, "suite": "web-app"},
        "run": {"verdict": verdict, "reason": "ALL_REQUIRED_PASSED", "suite": "web-app", "checks_total": 3, "checks_failed": 0},
    }


# --- ResolveTarget --------------------------------------------------------------------------


def test_resolve_target_reads_address_and_suite(stack, launch):
    instance = launch(http=False, suite="linux-baseline")

    target, error = invoke(stack, "ResolveTargetFunction", {"launch": plain_launch(instance.instance_id), "execution_name": unique_name("resolve")})

    assert error is None
    assert target["address"] == instance.address
    assert target["suite"] == "linux-baseline"
    assert target["expected_host_key"] == instance.sshd.host_key_fingerprint


@pytest.mark.parametrize(
    ("message_suite", "tag_suite", "expected"),
    [
        ("web-app", "linux-baseline", "web-app"),
        (None, "web-app", "web-app"),
        (None, None, "linux-baseline"),
    ],
)
def test_resolve_target_suite_precedence(stack, launch, message_suite, tag_suite, expected):
    instance = launch(http=False, suite=tag_suite)

    target, _ = invoke(stack, "ResolveTargetFunction", {"launch": plain_launch(instance.instance_id, suite=message_suite), "execution_name": unique_name("resolve")})

    assert target["suite"] == expected


def test_resolve_target_unknown_instance(stack):
    payload, error = invoke(stack, "ResolveTargetFunction", {"launch": plain_launch("i-0123456789abcdef0"), "execution_name": unique_name("resolve")})

    assert error == "InstanceNotFound"
    assert "i-0123456789abcdef0" in payload["errorMessage"]


# --- TagInstance ----------------------------------------------------------------------------


def test_tag_instance_writes_prefixed_tags(stack, launch):
    instance = launch(http=False)
    name = unique_name("tag")

    launch = plain_launch(instance.instance_id, wave="wave-3")
    result, error = invoke(stack, "TagInstanceFunction", {"instance_id": instance.instance_id, "status": "IN_PROGRESS", "execution_name": name, "launch": launch})

    reservations = stack.client("ec2").describe_instances(InstanceIds=[instance.instance_id])["Reservations"]
    tags = {tag["Key"]: tag["Value"] for tag in reservations[0]["Instances"][0]["Tags"]}
    assert error is None
    assert result == {"tagged": True}
    assert tags[STATUS] == "IN_PROGRESS"
    assert tags["migration-validator:wave"] == "wave-3"
    assert tags["migration-validator:execution"] == name
    assert SUITE not in tags, "the suite tag is read, never written"


def test_tag_instance_without_instance(stack):
    result, error = invoke(stack, "TagInstanceFunction", {"instance_id": None, "status": "LAUNCH_FAILED", "execution_name": unique_name("tag")})

    assert error is None
    assert result == {"tagged": False}


# --- RunSmokeTests --------------------------------------------------------------------------


def smoke_test_event(instance, started_at: datetime) -> dict:
    return {
        "launch": plain_launch(instance.instance_id),
        "target": {
            "instance_id": instance.instance_id,
            "address": instance.address,
            "ssh_user": instance.sshd.user,
            "expected_host_key": instance.sshd.host_key_fingerprint,
            "suite": "linux-baseline",
        },
        "execution_name": unique_name("smoke"),
        "execution_started_at": started_at.isoformat(),
    }


def test_run_smoke_tests_not_ready_within_grace(stack, launch):
    instance = launch(http=False)
    instance.sshd.stop()
    event = smoke_test_event(instance, datetime.now(timezone.utc) + timedelta(minutes=5))

    payload, error = invoke(stack, "RunSmokeTestsFunction", event)

    assert error == "TargetNotReady"
    assert "CONNECTION_REFUSED" in payload["errorMessage"]


def test_run_smoke_tests_unreachable_after_grace(stack, launch):
    instance = launch(http=False)
    instance.sshd.stop()
    event = smoke_test_event(instance, datetime.now(timezone.utc) - timedelta(hours=1))

    summary, error = invoke(stack, "RunSmokeTestsFunction", event)

    assert error is None
    assert summary["verdict"] == "UNREACHABLE"
    assert summary["reason"] == "CONNECTION_REFUSED"


def test_run_smoke_tests_returns_summary_only(stack, launch):
    instance = launch(http=False)
    event = smoke_test_event(instance, datetime.now(timezone.utc))

    summary, error = invoke(stack, "RunSmokeTestsFunction", event)

    record = read_record(stack, event["execution_name"])
    assert error is None
    assert summary["verdict"] == "PASSED"
    assert "checks" not in summary
    assert len(record["checks"]) == summary["checks_total"]
    assert "verdict" not in record, "RunSmokeTests stores checks; only RecordResult writes the verdict"


# --- RecordResult ---------------------------------------------------------------------------


def test_record_result_writes_once(stack):
    name = unique_name("record")
    state = recorded_state(name, "i-0aaaaaaaaaaaaaaa1")

    first, _ = invoke(stack, "RecordResultFunction", {"state": state, "execution_arn": f"arn:local:{name}"})
    second, _ = invoke(stack, "RecordResultFunction", {"state": {**state, "error": {"Error": "States.TaskFailed", "Cause": "later step"}}, "execution_arn": f"arn:local:{name}"})

    assert first == {"verdict": "PASSED", "reason": "ALL_REQUIRED_PASSED", "instance_id": "i-0aaaaaaaaaaaaaaa1", "written": True}
    assert second["verdict"] == "PASSED"
    assert second["written"] is False
    assert read_record(stack, name)["wave"] == "wave-2"


def test_record_result_error_from_fallback(stack):
    name = unique_name("record")
    state = {"execution_name": name, "launch": plain_launch("i-0aaaaaaaaaaaaaaa2"), "error": {"Error": "SuiteNotFound", "Cause": "{\"errorMessage\": \"suite 'x' not found\"}"}}

    result, _ = invoke(stack, "RecordResultFunction", {"state": state, "execution_arn": f"arn:local:{name}"})

    record = read_record(stack, name)
    assert result["verdict"] == "ERROR"
    assert record["reason"] == "SuiteNotFound"
    assert "suite 'x' not found" in record["error_cause"]


# --- PublishVerdict -------------------------------------------------------------------------


def test_publish_verdict_sends_once(stack, inbox):
    name = unique_name("publish")
    invoke(stack, "RecordResultFunction", {"state": recorded_state(name, "i-0aaaaaaaaaaaaaaa3"), "execution_arn": f"arn:local:{name}"})

    first, _ = invoke(stack, "PublishVerdictFunction", {"execution_name": name})
    second, _ = invoke(stack, "PublishVerdictFunction", {"execution_name": name})

    notifications = inbox.for_execution(name)
    assert first == {"published": True}
    assert second == {"published": False}
    assert len(notifications) == 1
    assert notifications[0]["MessageAttributes"]["wave"]["Value"] == "wave-2"


def test_publish_verdict_without_record(stack):
    payload, error = invoke(stack, "PublishVerdictFunction", {"execution_name": unique_name("publish")})

    assert error == "LookupError"
    assert "no recorded verdict" in payload["errorMessage"]


# --- StartValidation ------------------------------------------------------------------------


def sqs_event(stack, *bodies: str) -> dict:
    queue_arn = stack.stack.attributes["LaunchQueue"]["Arn"]
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "local",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def dead_letters(stack) -> list[dict]:
    sqs = stack.client("sqs")
    url = stack.outputs["LaunchDeadLetterQueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_start_validation_rejects_to_dead_letter_queue(stack):
    dead_letters(stack)
    event = sqs_event(stack, '{"instance_id": "i-123"}', "{not json")

    result, error = invoke(stack, "StartValidationFunction", event)

    reasons = [m["MessageAttributes"]["rejection_reason"]["StringValue"] for m in dead_letters(stack)]
    assert error is None
    assert result == {"batchItemFailures": []}
    assert len(reasons) == 2
    assert any("i-123" in reason for reason in reasons)


def test_start_validation_duplicate_starts_one_execution(stack):
    body = json.dumps({"instance_id": "i-0bbbbbbbbbbbbbbb1", "request_id": unique_name("dup")})

    invoke(stack, "StartValidationFunction", sqs_event(stack, body))
    invoke(stack, "StartValidationFunction", sqs_event(stack, body, body))

    executions = stack.client("stepfunctions").list_executions(stateMachineArn=stack.outputs["ValidationStateMachineArn"])["executions"]
    assert len([e for e in executions if e["name"].startswith("plain-i-0bbbbbbbbbbbbbbb1-")]) == 1


# --- StoppedExecution -----------------------------------------------------------------------


def status_change(name: str, status: str, launch: dict) -> dict:
    return {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:local:{name}",
            "name": name,
            "status": status,
            "input": json.dumps({"execution_name": name, "attempt": 1, "launch": launch}),
            "error": "States.Timeout",
            "cause": None,
        },
    }


def test_stopped_execution_records_error_once(stack, inbox):
    name = unique_name("stopped")

    first, _ = invoke(stack, "StoppedExecutionFunction", status_change(name, "TIMED_OUT", plain_launch("i-0ccccccccccccccc1")))
    second, _ = invoke(stack, "StoppedExecutionFunction", status_change(name, "TIMED_OUT", plain_launch("i-0ccccccccccccccc1")))

    record = read_record(stack, name)
    assert first == {"verdict": "ERROR", "written": True, "published": True}
    assert second == {"verdict": "ERROR", "written": False, "published": False}
    assert record["reason"] == "ExecutionTimedOut"
    assert record["instance_id"] == "i-0ccccccccccccccc1"
    assert len(inbox.for_execution(name)) == 1


def test_stopped_execution_keeps_existing_verdict(stack, inbox):
    name = unique_name("stopped")
    invoke(stack, "RecordResultFunction", {"state": recorded_state(name, "i-0ccccccccccccccc2", verdict="FAILED"), "execution_arn": f"arn:local:{name}"})

    result, _ = invoke(stack, "StoppedExecutionFunction", status_change(name, "FAILED", plain_launch("i-0ccccccccccccccc2")))

    assert result["verdict"] == "FAILED"
    assert result["written"] is False
    assert read_record(stack, name)["verdict"] == "FAILED"
    assert len(inbox.for_execution(name)) == 1
