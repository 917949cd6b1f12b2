"""The reconciliation sweep and `migration-validator reconcile` against the local stack.

The sweep runs in ReconcileFunction, invoked over the local Lambda Invoke API as the CLI does.
A grace period of 0 minutes lets it consider instances launched moments ago. It then also
considers other tests' instances, so each test checks only its own.
"""

from __future__ import annotations

import json

import pytest

from launch_cases import fresh_job_id, fresh_source_server_id, mgn_event, send, wait_for_execution_until
from migration_validator.launches import execution_name, read_message
from migration_validator.tags import EXECUTION, STATUS, WAVE
from migration_validator_cli import local_command
from migration_validator_cli.local.session import execution_arn, read_record, wait_for_execution
from migration_validator_cli.main import main
from migration_validator_cli.reconcile import invoke_reconcile

pytestmark = pytest.mark.timeout(180)


def sweep(stack, grace_minutes: int | None = 0) -> dict[str, dict]:
    """Run the sweep once; return what it sent, by instance id."""
    sent = invoke_reconcile(stack.lambda_client(), stack.outputs["ReconcileFunctionName"], grace_minutes)
    return {entry["instance_id"]: entry for entry in sent}


def tag_in_progress(stack, instance_id: str, execution_name: str, wave: str) -> None:
    tags = {STATUS: "IN_PROGRESS", EXECUTION: execution_name, WAVE: wave}
    stack.client("ec2").create_tags(Resources=[instance_id], Tags=[{"Key": key, "Value": value} for key, value in tags.items()])


def test_sweep_validates_mgn_launch_without_message(stack, launch):
    instance = launch(suite="web-app")
    source_server_id = fresh_source_server_id()
    stack.mgn.add_launch(fresh_job_id(), source_server_id, instance.instance_id)

    sent = sweep(stack)

    entry = sent[instance.instance_id]
    execution = wait_for_execution(stack, entry["execution_name"])
    assert entry["found_by"] == "mgn"
    assert entry["source_server_id"] == source_server_id
    assert entry["request_id"].startswith("reconcile-")
    assert read_record(stack, execution["name"])["verdict"] == "PASSED"
    assert instance.instance_id not in sweep(stack), "a validated instance must not be sent again"


def test_sweep_leaves_instance_to_running_execution(stack, launch):
    instance = launch(suite="web-app")
    # MGN has not reported the job's instance, so this execution keeps retrying ResolveTarget.
    source_server_id, job_id = fresh_source_server_id(), fresh_job_id()
    stack.mgn.add_launch(job_id, source_server_id, None)
    body = mgn_event(source_server_id, job_id)
    name = execution_name(read_message(body))
    send(stack, body)
    wait_until_running(stack, name)
    tag_in_progress(stack, instance.instance_id, name, "wave-4")

    while_running = sweep(stack)
    stack.client("stepfunctions").stop_execution(executionArn=execution_arn(stack, name), error="TestFinished")
    wait_for_execution(stack, name)
    after_stop = sweep(stack)
    wait_for_execution(stack, after_stop[instance.instance_id]["execution_name"])

    assert instance.instance_id not in while_running
    assert instance.instance_id in after_stop, "once the execution has stopped without a verdict, the sweep must send the instance"


def wait_until_running(stack, name: str, timeout_seconds: float = 30) -> None:
    wait_for_execution_until(
        stack, name, lambda stepfunctions, arn: stepfunctions.describe_execution(executionArn=arn)["status"] == "RUNNING", "start running", timeout_seconds
    )


def test_sweep_waits_for_grace_period(stack, launch):
    instance = launch(suite="web-app")
    tag_in_progress(stack, instance.instance_id, "plain-i-0000000000000dead-0000000000000000", "wave-3")

    sent = sweep(stack, grace_minutes=None)

    assert instance.instance_id not in sent, "an instance launched moments ago is within the stack's 30-minute grace"


def test_reconcile_command_restarts_lost_execution(stack, launch, local_state_file, capsys):
    instance = launch(suite="web-app")
    # The execution its tag names never recorded a verdict and no longer exists, as after a lost event.
    tag_in_progress(stack, instance.instance_id, "plain-i-0000000000000dead-0000000000000000", "wave-9")

    status = main(["reconcile", "--grace-minutes", "0"])

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    entry = next(line for line in lines if line["instance_id"] == instance.instance_id)
    execution = wait_for_execution(stack, entry["execution_name"])
    record = read_record(stack, execution["name"])
    assert status == 0
    assert entry["found_by"] == "status-tag"
    assert record["verdict"] == "PASSED"
    assert record["wave"] == "wave-9"


def test_reconcile_command_without_stack(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(local_command, "STATE_FILE", tmp_path / "missing.json")

    status = main(["reconcile"])

    assert status == 2
    assert "--function-name" in capsys.readouterr().err
