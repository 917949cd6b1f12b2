"""The real ASL, run by moto's interpreter, through every verdict the workflow can reach.

Each launch enters by publishing to LaunchTopic, as in production. The handlers run in their
own worker processes behind the local Lambda Invoke endpoint, and the targets are a real sshd
and HTTP server on loopback.
"""

from __future__ import annotations

import json

import pytest

from launch_cases import wait_for_execution_until
from migration_validator.launches import execution_name
from migration_validator.tags import STATUS
from migration_validator_cli.history import execution_history, state_runs
from migration_validator_cli.local.session import (
    execution_arn,
    launch_of,
    plain_launch_message,
    read_record,
    validate_via_topic,
    wait_for_execution,
)

pytestmark = pytest.mark.timeout(180)


def instance_tags(stack, instance_id: str) -> dict[str, str]:
    reservations = stack.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return {tag["Key"]: tag["Value"] for tag in reservations[0]["Instances"][0].get("Tags", [])}


def states_entered(stack, execution_arn: str) -> list[str]:
    return [run.name for run in state_runs(execution_history(stack.client("stepfunctions"), execution_arn))]


def test_healthy_instance_passes(stack, inbox, launch):
    instance = launch()

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="web-app", wave="wave-7"))

    assert validation.execution["status"] == "SUCCEEDED"
    assert validation.record["verdict"] == "PASSED"
    assert validation.record["wave"] == "wave-7"
    assert validation.record["checks_failed"] == 0
    assert [c["check_id"] for c in validation.record["checks"] if c["required"] and c["status"] != "PASSED"] == []
    assert len(validation.notifications) == 1
    assert validation.notifications[0]["MessageAttributes"]["verdict"]["Value"] == "PASSED"
    assert instance_tags(stack, instance.instance_id)[STATUS] == "PASSED"


def test_stopped_web_service_fails_naming_check(stack, inbox, launch):
    instance = launch(http=False)

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="web-app"))

    assert validation.record["verdict"] == "FAILED"
    failed = {check["check_id"] for check in validation.record["checks"] if check["status"] == "FAILED"}
    message = json.loads(validation.notifications[0]["Message"])
    assert failed, "at least one check must fail when the web service is down"
    assert {check["check_id"] for check in message["failed_checks"]} >= failed
    assert instance_tags(stack, instance.instance_id)[STATUS] == "FAILED"


def test_check_output_stays_out_of_execution_history(stack, inbox, launch):
    instance = launch()

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="web-app"))

    history = json.dumps(execution_history(stack.client("stepfunctions"), validation.execution_arn), default=str)
    stdout_excerpts = [check["stdout"] for check in validation.record["checks"] if len(check.get("stdout", "")) > 20]
    assert stdout_excerpts, "the suite's commands print output that the record keeps"
    assert not [excerpt for excerpt in stdout_excerpts if excerpt in history]


def test_nothing_listening_is_unreachable_after_retries(stack, inbox, launch):
    instance = launch(http=False)
    instance.sshd.stop()

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="web-app"))

    assert validation.record["verdict"] == "UNREACHABLE"
    assert validation.record["reason"] == "CONNECTION_REFUSED"
    runs = [run for run in state_runs(execution_history(stack.client("stepfunctions"), validation.execution_arn)) if run.name == "RunSmokeTests"]
    assert runs[0].attempts >= 2, "TargetNotReady must be retried before the deadline"
    assert "TargetNotReady" in runs[0].errors
    assert len(validation.notifications) == 1


def test_step_error_goes_through_fallback(stack, inbox, launch):
    instance = launch()

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="no-such-suite"))

    assert validation.execution["status"] == "FAILED"
    assert validation.record["verdict"] == "ERROR"
    assert validation.record["reason"] == "SuiteNotFound"
    assert "no-such-suite" in validation.record["error_cause"]
    assert ["RecordError", "PublishError", "TagError", "ValidationFailed"] == states_entered(stack, validation.execution_arn)[-4:]
    assert len(validation.notifications) == 1
    assert instance_tags(stack, instance.instance_id)[STATUS] == "ERROR"


def test_stopped_execution_rule_adds_no_second_verdict(stack, inbox, launch):
    instance = launch()
    validation = validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite="no-such-suite"))

    stack.watcher.poll_once()

    delivered = [d for d in stack.watcher.deliveries if d[0] == validation.execution["name"]]
    assert delivered, "the watcher must pass the FAILED status change to StoppedExecution"
    assert len(inbox.for_execution(validation.execution["name"])) == 1


def test_aborted_execution_gets_error_verdict(stack, inbox, silent_instance):
    """No Catch runs when an execution is stopped; the status change rule records ERROR instead."""
    body = plain_launch_message(silent_instance, suite="web-app")
    name = execution_name(launch_of(body))
    stack.client("sns").publish(TopicArn=stack.outputs["LaunchTopicArn"], Message=body)
    wait_for_state(stack, name, "RunSmokeTests")

    stack.client("stepfunctions").stop_execution(executionArn=execution_arn(stack, name), error="OperatorStopped")
    execution = wait_for_execution(stack, name)
    stack.watcher.poll_once()

    record = read_record(stack, name)
    assert execution["status"] == "ABORTED"
    assert record["verdict"] == "ERROR"
    assert record["reason"] == "ExecutionAborted"
    assert len(inbox.for_execution(name)) == 1


def wait_for_state(stack, name: str, state: str, timeout_seconds: float = 60) -> None:
    """Wait until the execution has entered ``state``; moto cannot stop an execution before its first state."""
    wait_for_execution_until(stack, name, lambda _, arn: state in states_entered(stack, arn), f"reach {state}", timeout_seconds)


def test_address_off_loopback_is_never_contacted(stack, inbox):
    """moto gives an instance a 10.x address unless given one; the local stack must not reach it."""
    reservation = stack.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    instance = reservation["Instances"][0]
    assert not instance["PrivateIpAddress"].startswith("127.")

    validation = validate_via_topic(stack, inbox, plain_launch_message(instance["InstanceId"], suite="web-app"))

    runs = [run for run in state_runs(execution_history(stack.client("stepfunctions"), validation.execution_arn)) if run.name == "RunSmokeTests"]
    assert validation.record["verdict"] == "ERROR"
    assert validation.record["reason"] == "TargetRejected"
    assert instance["PrivateIpAddress"] in validation.record["error_cause"]
    assert runs[0].attempts == 1, "a rejected address is final, never retried"
