"""Encryption at rest and TLS in transit, checked on template.yaml as the SAM translator translates it.

Every topic is encrypted with a customer managed KMS key, every queue with SQS-managed keys or
KMS, the table with DynamoDB server-side encryption; every topic and queue policy denies
requests made without TLS (aws:SecureTransport false).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

from migration_validator_cli.local.template import translate
from migration_validator_cli.paths import TEMPLATE


def resources_of(template: dict, resource_type: str) -> dict[str, dict]:
    return {logical_id: resource for logical_id, resource in template["Resources"].items() if resource["Type"] == resource_type}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def denies_without_tls(statement: dict, logical_id: str, actions: set[str]) -> bool:
    """True for a Deny to everyone, on this resource, for these actions, when aws:SecureTransport is false."""
    principal = statement.get("Principal")
    references = [str(resource) for resource in as_list(statement.get("Resource", []))]
    return (
        statement.get("Effect") == "Deny"
        and principal in ("*", {"AWS": "*"})
        and str(statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
        and any(logical_id in reference for reference in references)
        and actions <= set(as_list(statement.get("Action", [])))
    )


def encryption_problems(template: dict) -> list[str]:
    problems = []
    for logical_id, topic in resources_of(template, "AWS::SNS::Topic").items():
        if not topic["Properties"].get("KmsMasterKeyId"):
            problems.append(f"{logical_id}: topic without KmsMasterKeyId")
    for logical_id, queue in resources_of(template, "AWS::SQS::Queue").items():
        properties = queue["Properties"]
        if properties.get("SqsManagedSseEnabled") is not True and not properties.get("KmsMasterKeyId"):
            problems.append(f"{logical_id}: queue without SqsManagedSseEnabled or KmsMasterKeyId")
    for logical_id, table in resources_of(template, "AWS::DynamoDB::Table").items():
        if table["Properties"].get("SSESpecification", {}).get("SSEEnabled") is not True:
            problems.append(f"{logical_id}: table without SSESpecification.SSEEnabled")
    for logical_id, key in resources_of(template, "AWS::KMS::Key").items():
        if key["Properties"].get("EnableKeyRotation") is not True:
            problems.append(f"{logical_id}: KMS key without EnableKeyRotation")
    return problems


def statements_for(template: dict, policy_type: str, list_key: str, logical_id: str) -> list[dict]:
    """The statements of every policy of ``policy_type`` whose ``list_key`` names the resource."""
    return [
        statement
        for policy in resources_of(template, policy_type).values()
        if {"Ref": logical_id} in policy["Properties"][list_key]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def tls_problems(template: dict) -> list[str]:
    problems = []
    kinds = (("AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "Topics", "sns:Publish"), ("AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "Queues", "sqs:*"))
    for resource_type, policy_type, list_key, action in kinds:
        for logical_id in resources_of(template, resource_type):
            statements = statements_for(template, policy_type, list_key, logical_id)
            if not any(denies_without_tls(statement, logical_id, {action}) for statement in statements):
                problems.append(f"{logical_id}: no {policy_type.rsplit('::', 1)[1]} denies {action} without TLS")
    return problems


def translated(template: dict, tmp_path: Path) -> dict:
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(template))
    return translate(path)[0]


@pytest.fixture(scope="module")
def template() -> dict:
    return translate(TEMPLATE)[0]


def test_everything_encrypted_at_rest(template):
    assert encryption_problems(template) == []


def test_topics_and_queues_deny_without_tls(template):
    assert tls_problems(template) == []


def test_template_has_topics_queues_and_table(template):
    """The checks above pass vacuously on a template without these resources."""
    assert resources_of(template, "AWS::SNS::Topic")
    assert resources_of(template, "AWS::SQS::Queue")
    assert resources_of(template, "AWS::DynamoDB::Table")


def test_unencrypted_topic_is_reported(tmp_path):
    sam = yaml_parse(TEMPLATE.read_text())
    del sam["Resources"]["VerdictTopic"]["Properties"]["KmsMasterKeyId"]

    assert encryption_problems(translated(sam, tmp_path)) == ["VerdictTopic: topic without KmsMasterKeyId"]


def test_queue_without_tls_deny_is_reported(tmp_path):
    sam = yaml_parse(TEMPLATE.read_text())
    policy = sam["Resources"]["LaunchQueuePolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"] = [statement for statement in policy["Statement"] if statement.get("Effect") != "Deny"]

    assert tls_problems(translated(sam, tmp_path)) == [
        "LaunchDeadLetterQueue: no QueuePolicy denies sqs:* without TLS",
        "LaunchQueue: no QueuePolicy denies sqs:* without TLS",
    ]
