"""Least privilege: every AWS call the functions made in real runs is allowed by their own role.

The local stack's AWS gateway records the calls while launches go through PASSED, FAILED,
UNREACHABLE, ERROR (whose failed execution also reaches StoppedExecution), an MGN launch, a
failed MGN launch and a rejected message. Each call is then checked against the policies of the
calling function's role in template.yaml as the SAM translator turns it into CloudFormation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from migration_validator_cli.chaos import mgn_launch_event
from migration_validator_cli.local.gateway import AwsCall
from migration_validator_cli.local.iam import (
    Finding,
    StackPolicies,
    check_calls,
    check_state_machines,
    lint_policies,
)
from migration_validator_cli.local.session import plain_launch_message, validate_via_topic
from migration_validator_cli.local.stack import DEFAULT_TEMPLATE

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def recorded_calls(stack, inbox, key_pair, tmp_path_factory) -> list[AwsCall]:
    """Run one launch of every kind and return every call the gateway recorded so far."""
    from migration_validator_cli.local.instances import launch_instance

    workdir = tmp_path_factory.mktemp("least-privilege")
    ec2 = stack.client("ec2")
    healthy = launch_instance(ec2, workdir / "healthy", key_pair[1])
    web_down = launch_instance(ec2, workdir / "web-down", key_pair[1], http=False)
    unreachable = launch_instance(ec2, workdir / "unreachable", key_pair[1], http=False)
    unreachable.sshd.stop()
    try:
        for instance_id, suite in ((healthy.instance_id, "web-app"), (web_down.instance_id, "web-app"), (unreachable.instance_id, "web-app"), (healthy.instance_id, "no-such-suite")):
            validate_via_topic(stack, inbox, plain_launch_message(instance_id, suite=suite))

        job_id, source_server_id = "mgnjob-0123456789abcdef0", "s-0123456789abcdef0"
        mgn_instance = launch_instance(ec2, workdir / "mgn", key_pair[1])
        stack.mgn.add_launch(job_id, source_server_id, mgn_instance.instance_id)
        validate_via_topic(stack, inbox, mgn_launch_event(job_id, source_server_id, failed=False))
        validate_via_topic(stack, inbox, mgn_launch_event("mgnjob-0123456789abcdef1", "s-0123456789abcdef1", failed=True))

        # A message no reader accepts goes to the dead-letter queue through StartValidation.
        stack.client("sqs").send_message(QueueUrl=stack.outputs["LaunchQueueUrl"], MessageBody=json.dumps({"not": "a launch"}))

        # The failed execution of the unknown suite reaches StoppedExecution through the status watcher.
        stack.watcher.poll_once()

        if "ReconcileFunction" in stack.stack.functions:
            # A grace period longer than any local run makes the sweep read everything and send nothing.
            stack.lambda_client().invoke(FunctionName=stack.stack.functions["ReconcileFunction"].name, Payload=json.dumps({"grace_minutes": 100000}))
        wait_for_dead_letter(stack)
    finally:
        for instance in (healthy, web_down, unreachable, mgn_instance):
            instance.stop()
    return stack.gateway.calls


def wait_for_dead_letter(stack) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(call.action == "sqs:SendMessage" for call in stack.gateway.calls):
            return
        time.sleep(0.2)


@pytest.fixture(scope="module")
def policies(stack) -> StackPolicies:
    return StackPolicies.load(DEFAULT_TEMPLATE, stack.stack, stack.parameter_overrides)


def policies_without(stack, tmp_path: Path, function: str, action: str) -> StackPolicies:
    """Load a copy of template.yaml whose function policy lacks ``action``."""
    template = yaml_parse(DEFAULT_TEMPLATE.read_text())
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [name for name in actions if name != action]
    copy = tmp_path / "template.json"
    copy.write_text(json.dumps(template))
    return StackPolicies.load(copy, stack.stack, stack.parameter_overrides)


def test_every_function_made_calls(stack, recorded_calls):
    callers = {call.function_name for call in recorded_calls}
    silent = sorted(spec.name for spec in stack.stack.functions.values() if spec.name not in callers)
    assert silent == [], "these functions made no AWS call, so their policies went unchecked"


def test_recorded_calls_are_allowed(policies, recorded_calls):
    findings = check_calls(policies, recorded_calls)
    assert [str(finding) for finding in findings] == []


def test_state_machine_invokes_only_allowed_functions(policies):
    assert [str(finding) for finding in check_state_machines(policies)] == []


def test_policies_have_no_wildcards_or_foreign_resources(policies):
    assert [str(finding) for finding in lint_policies(policies)] == []


def test_removed_action_is_reported(stack, recorded_calls, tmp_path):
    used = {(call.function_name, call.action) for call in recorded_calls}
    record_result = stack.stack.functions["RecordResultFunction"].name
    assert (record_result, "dynamodb:UpdateItem") in used

    trimmed = policies_without(stack, tmp_path, "RecordResultFunction", "dynamodb:UpdateItem")
    findings = check_calls(trimmed, recorded_calls)

    assert {(finding.principal, finding.action) for finding in findings} == {(record_result, "dynamodb:UpdateItem")}


def test_removed_kms_action_is_reported(stack, recorded_calls, tmp_path):
    """Publishing to an encrypted topic needs kms:GenerateDataKey, which no recorded request names itself."""
    publisher = stack.stack.functions["PublishVerdictFunction"].name

    trimmed = policies_without(stack, tmp_path, "PublishVerdictFunction", "kms:GenerateDataKey")
    findings = check_calls(trimmed, recorded_calls)

    assert (publisher, "kms:GenerateDataKey") in {(finding.principal, finding.action) for finding in findings}


def test_tag_write_outside_prefix_denied(policies, stack):
    tagger = stack.stack.functions["TagInstanceFunction"].name
    call = AwsCall(tagger, "ec2", "CreateTags", {"ResourceId.1": "i-0123456789abcdef0", "Tag.1.Key": "Name", "Tag.1.Value": "x"})

    assert check_calls(policies, [call]) == [
        Finding(tagger, "ec2:CreateTags", "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0", "not allowed by TagInstanceFunctionRole")
    ]


def test_unscoped_statement_is_reported(stack, tmp_path):
    template = yaml_parse(DEFAULT_TEMPLATE.read_text())
    statements = template["Resources"]["RecordResultFunction"]["Properties"]["Policies"][0]["Statement"]
    statements.append({"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": "*"})
    copy = tmp_path / "template.json"
    copy.write_text(json.dumps(template))

    findings = lint_policies(StackPolicies.load(copy, stack.stack, stack.parameter_overrides))

    assert {finding.problem for finding in findings} == {
        "wildcard action; name each action",
        "resource * for an action that supports resource-level permissions",
    }
