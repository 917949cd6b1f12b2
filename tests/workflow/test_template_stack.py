"""The local stack is built from template.yaml and nothing else."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from moto import mock_aws

from migration_validator_cli.local.template import StackBuilder, TemplateNotSupported

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
OVERRIDES = {"SshKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:local-key"}


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads the template's short-form tags (!Ref, !GetAtt ...) back as plain mappings."""


def _tag(loader, tag_suffix, node):
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _tag)


def template_without(tmp_path: Path, *logical_ids: str) -> Path:
    """Write a copy of template.yaml without the named resources, next to the real code paths."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    for logical_id in logical_ids:
        del template["Resources"][logical_id]
    template["Outputs"] = {key: value for key, value in template["Outputs"].items() if not any(logical_id in str(value) for logical_id in logical_ids)}
    copy = TEMPLATE.parent / f".template-test-{tmp_path.name}.yaml"
    copy.write_text(yaml.safe_dump(template, sort_keys=False))
    return copy


def stack_name() -> str:
    # Another test module's local stack may hold moto's backends open, so names must not repeat.
    return f"mv-template-{uuid.uuid4().hex[:8]}"


def build(template_path: Path):
    with mock_aws():
        return StackBuilder(template_path, stack_name(), OVERRIDES).build()


def test_stack_has_every_template_resource():
    stack = build(TEMPLATE)

    assert {"LaunchTopic", "LaunchQueue", "LaunchDeadLetterQueue", "ResultsTable", "VerdictTopic", "ValidationStateMachine"} <= set(stack.refs)
    assert {
        "StartValidationFunction",
        "ResolveTargetFunction",
        "TagInstanceFunction",
        "RunSmokeTestsFunction",
        "RecordResultFunction",
        "PublishVerdictFunction",
        "StoppedExecutionFunction",
    } <= set(stack.functions)


def test_removed_function_is_gone_locally(tmp_path):
    copy = template_without(tmp_path, "StoppedExecutionFunction", "StoppedExecutionLogGroup")
    try:
        stack = build(copy)
    finally:
        copy.unlink()

    assert "StoppedExecutionFunction" not in stack.functions
    assert [rule.logical_id for rule in stack.event_rules if rule.logical_id.startswith("StoppedExecutionFunction")] == []


def test_removed_subscription_is_gone_locally(tmp_path):
    copy = template_without(tmp_path, "LaunchSubscription")
    try:
        with mock_aws():
            import boto3

            stack = StackBuilder(copy, stack_name(), OVERRIDES).build()
            subscriptions = boto3.client("sns", region_name="us-east-1").list_subscriptions_by_topic(TopicArn=stack.refs["LaunchTopic"])["Subscriptions"]
    finally:
        copy.unlink()

    assert subscriptions == []


def test_missing_reference_is_reported(tmp_path):
    copy = template_without(tmp_path, "ResultsTable")
    try:
        with pytest.raises(TemplateNotSupported) as raised:
            build(copy)
    finally:
        copy.unlink()

    assert "ResultsTable" in str(raised.value)
