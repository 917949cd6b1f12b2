"""Network settings: the VPC endpoints RunSmokeTests needs, and client timeouts inside function timeouts."""

from __future__ import annotations

import pytest

from migration_validator import aws
from migration_validator_cli.local.template import StackBuilder, translate
from migration_validator_cli.paths import TEMPLATE

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ssh-key-AbCdEf"
IN_VPC = {"SubnetIds": "subnet-0123456789abcdef0", "SecurityGroupIds": "sg-0123456789abcdef0", "VpcId": "vpc-0123456789abcdef0", "RouteTableIds": "rtb-0123456789abcdef0"}


def condition(overrides: dict[str, str], name: str) -> bool:
    builder = StackBuilder(TEMPLATE, "mv-network", {"SshKeySecretArn": SECRET, **overrides})
    return bool(builder.resolve({"Condition": name}))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, False),
        ({"CreateVpcEndpoints": "true"}, False),
        (IN_VPC, False),
        ({**IN_VPC, "CreateVpcEndpoints": "true"}, True),
    ],
)
def test_endpoints_only_in_vpc_when_asked(overrides, expected):
    assert condition(overrides, "CreateEndpoints") is expected


def test_endpoints_cover_run_smoke_tests_services():
    template = translate(TEMPLATE)[0]
    resources = template["Resources"]
    endpoints = {resource["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1] for resource in resources.values() if resource["Type"] == "AWS::EC2::VPCEndpoint"}
    statements = [statement for policy in resources["RunSmokeTestsFunctionRole"]["Properties"]["Policies"] for statement in policy["PolicyDocument"]["Statement"]]
    services = {action.split(":")[0] for statement in statements for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}

    assert services <= endpoints


def test_client_retries_end_before_shortest_function_timeout():
    template = translate(TEMPLATE)[0]
    timeouts = [resource["Properties"].get("Timeout", 3) for resource in template["Resources"].values() if resource["Type"] == "AWS::Lambda::Function"]
    config = aws.CLIENT_CONFIG
    attempts = config.retries["total_max_attempts"]

    worst_case = attempts * (config.connect_timeout + config.read_timeout) + aws.MAX_BACKOFF_SECONDS

    assert worst_case < min(timeouts)


def test_secrets_client_uses_client_config():
    from handlers.run_smoke_tests import secrets_provider

    client_config = secrets_provider().client.meta.config
    assert client_config.read_timeout == aws.CLIENT_CONFIG.read_timeout
    assert client_config.retries["total_max_attempts"] == aws.CLIENT_CONFIG.retries["total_max_attempts"]
