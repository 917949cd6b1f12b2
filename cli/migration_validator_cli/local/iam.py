"""Least privilege, checked against the template's policies and the calls the functions really make.

``StackPolicies.load`` translates a SAM template with the SAM translator and resolves every
role's inline policies with the physical names of a running local stack, so a copy of the
template with one action removed can be checked against the calls recorded on the original.

``check_calls`` evaluates each recorded call (see gateway.py) against the policies of the
calling function's role: an explicit Deny wins, otherwise an Allow whose Action, Resource and
Condition all match is needed. Calls the service makes on the caller's behalf are added:
publishing to a topic encrypted with a customer managed key needs kms:GenerateDataKey and
kms:Decrypt on that key. The state machine's own calls are the Lambda invocations its Task
states name. ``lint_policies`` checks the policies without calls: no wildcard actions, no
"*" resource except where AWS requires it, and tag writes confined to migration-validator:*.

The evaluator covers what this template uses: Action and Resource with * and ? wildcards,
and the condition operators StringEquals, StringLike, ArnEquals, ArnLike and Bool, with the
ForAllValues: and ForAnyValue: prefixes. It is no general IAM simulator.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from .gateway import AwsCall
from .template import ACCOUNT_ID, PARTITION, REGION, BuiltStack, StackBuilder

# Actions AWS defines without resource-level permissions, so their statements must name "*".
ACTIONS_REQUIRING_STAR = {
    "ec2:DescribeInstances": "EC2 Describe* actions support no resource-level permissions",
    "mgn:DescribeJobs": "MGN DescribeJobs supports no resource-level permissions",
    "mgn:DescribeSourceServers": "MGN DescribeSourceServers supports no resource-level permissions",
    "logs:CreateLogDelivery": "CloudWatch Logs vended log delivery APIs support no resource-level permissions",
    "logs:GetLogDelivery": "CloudWatch Logs vended log delivery APIs support no resource-level permissions",
    "logs:UpdateLogDelivery": "CloudWatch Logs vended log delivery APIs support no resource-level permissions",
    "logs:DeleteLogDelivery": "CloudWatch Logs vended log delivery APIs support no resource-level permissions",
    "logs:ListLogDeliveries": "CloudWatch Logs vended log delivery APIs support no resource-level permissions",
    "logs:PutResourcePolicy": "CloudWatch Logs resource policies are account-wide",
    "logs:DescribeResourcePolicies": "CloudWatch Logs resource policies are account-wide",
    "logs:DescribeLogGroups": "DescribeLogGroups supports no resource-level permissions",
    "xray:PutTraceSegments": "X-Ray APIs support no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray APIs support no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray APIs support no resource-level permissions",
    "xray:GetSamplingTargets": "X-Ray APIs support no resource-level permissions",
}

# AWS managed policies SAM attaches by itself, and why each is accepted.
ACCEPTED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "every function writes its logs",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "Tracing: Active sends X-Ray segments",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": "the SQS event source mapping reads the launch queue with the function's role",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole": "SAM attaches it whenever VpcConfig is set, also when the InVpc condition leaves it empty",
}

TAG_WRITE_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags")
OWN_TAG_PATTERN = "migration-validator:*"


@dataclass(frozen=True)
class Finding:
    """One problem: ``principal`` is a function name or the state machine's logical id."""

    principal: str
    action: str
    resource: str
    problem: str

    def __str__(self) -> str:
        return f"{self.principal}: {self.action} on {self.resource}: {self.problem}"


@dataclass(frozen=True)
class Request:
    """One authorization question: may this principal do ``action`` on ``resource`` with this context?"""

    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class RolePolicies:
    statements: list[dict]
    managed_policy_arns: list[str]


@dataclass
class StackPolicies:
    """The resolved policies of every role, and which function or state machine uses which role."""

    roles: dict[str, RolePolicies]
    function_roles: dict[str, str]  # function physical name -> role logical id
    state_machine_roles: dict[str, str]  # state machine logical id -> role logical id
    own_arns: list[str]  # ARNs of the stack's own resources, which scoped statements must name
    topic_keys: dict[str, str]  # topic ARN -> ARN of the KMS key that encrypts it
    state_machine_definitions: dict[str, dict]

    @classmethod
    def load(cls, template_path: Path, running: BuiltStack, parameter_overrides: dict[str, str]) -> StackPolicies:
        """Translate ``template_path`` and resolve it with the resources ``running`` already has."""
        builder = StackBuilder(template_path, running.name, parameter_overrides)
        # Every logical id already has its physical name, so resolving creates nothing.
        builder.stack = copy.deepcopy(running)
        resources = builder.template["Resources"]

        roles = {}
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::IAM::Role" or not _condition_holds(builder, resource):
                continue
            properties = builder.resolve(copy.deepcopy(resource["Properties"]))
            statements = [statement for policy in properties.get("Policies", []) for statement in _as_list(policy["PolicyDocument"]["Statement"])]
            roles[logical_id] = RolePolicies(statements, list(properties.get("ManagedPolicyArns", [])))

        function_roles, state_machine_roles = {}, {}
        for logical_id, resource in resources.items():
            role = resource.get("Properties", {}).get("Role") or resource.get("Properties", {}).get("RoleArn")
            if not isinstance(role, dict) or "Fn::GetAtt" not in role:
                continue
            role_id = role["Fn::GetAtt"][0]
            if resource["Type"] == "AWS::Lambda::Function":
                function_roles[running.refs[logical_id]] = role_id
            elif resource["Type"] == "AWS::StepFunctions::StateMachine":
                state_machine_roles[logical_id] = role_id

        return cls(
            roles=roles,
            function_roles=function_roles,
            state_machine_roles=state_machine_roles,
            own_arns=_own_arns(running),
            topic_keys=_topic_keys(builder, running),
            state_machine_definitions={logical_id: json.loads(running.attributes[logical_id]["Definition"]) for logical_id in state_machine_roles},
        )

    def allows(self, role_id: str, request: Request) -> bool:
        return evaluate(self.roles[role_id].statements, request)


def _condition_holds(builder: StackBuilder, resource: dict) -> bool:
    return "Condition" not in resource or bool(builder.resolve({"Condition": resource["Condition"]}))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _own_arns(running: BuiltStack) -> list[str]:
    arns = []
    for logical_id, resource_type in running.resource_types.items():
        attributes = running.attributes.get(logical_id, {})
        if resource_type == "AWS::SQS::Queue":
            arns.append(attributes["Arn"])
        elif resource_type == "AWS::SNS::Topic":
            arns.append(attributes["TopicArn"])
        elif resource_type in ("AWS::DynamoDB::Table", "AWS::Lambda::Function", "AWS::KMS::Key"):
            arns.append(attributes["Arn"])
        elif resource_type == "AWS::StepFunctions::StateMachine":
            arns.append(attributes["Arn"])
            arns.append(attributes["Arn"].replace(":stateMachine:", ":execution:"))
        elif resource_type == "AWS::Logs::LogGroup":
            arns.append(attributes["Arn"].removesuffix(":*"))
    for spec in running.functions.values():
        arns.extend(value for value in spec.environment.values() if value.startswith(f"arn:{PARTITION}:secretsmanager:"))
    arns.append(f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT_ID}:instance/")  # tag writes, confined by aws:TagKeys instead
    return arns


def _topic_keys(builder: StackBuilder, running: BuiltStack) -> dict[str, str]:
    keys = {}
    key_arns = {running.refs[logical_id]: running.attributes[logical_id]["Arn"] for logical_id, kind in running.resource_types.items() if kind == "AWS::KMS::Key"}
    for logical_id, resource in builder.template["Resources"].items():
        if resource["Type"] == "AWS::SNS::Topic" and "KmsMasterKeyId" in resource.get("Properties", {}):
            key = builder.resolve(resource["Properties"]["KmsMasterKeyId"])
            keys[running.refs[logical_id]] = key_arns.get(key, key)
    return keys


# --- evaluation -------------------------------------------------------------------------------


def evaluate(statements: Iterable[dict], request: Request) -> bool:
    """Return True when an Allow matches the request and no Deny does."""
    allowed = False
    for statement in statements:
        if not _statement_matches(statement, request):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _statement_matches(statement: dict, request: Request) -> bool:
    if "Action" in statement and not any(_wildcard_match(pattern, request.action, case_sensitive=False) for pattern in _as_list(statement["Action"])):
        return False
    if "NotAction" in statement and any(_wildcard_match(pattern, request.action, case_sensitive=False) for pattern in _as_list(statement["NotAction"])):
        return False
    if not any(_wildcard_match(pattern, request.resource) for pattern in _as_list(statement.get("Resource", "*"))):
        return False
    return all(_condition_matches(operator, block, request.context) for operator, block in statement.get("Condition", {}).items())


def _wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    # IAM wildcards are * and ?; fnmatch would also read [ ] as a character class.
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _condition_matches(operator: str, block: dict, context: dict[str, list[str]]) -> bool:
    quantifier, _, test = operator.rpartition(":")
    for key, expected in block.items():
        expected_values = [str(value) for value in _as_list(expected)]
        actual = context.get(key)
        if actual is None:
            # A missing key fails every operator used here, except ForAllValues, which holds for no values.
            if quantifier == "ForAllValues":
                continue
            return False
        results = [any(_test(test, value, candidate) for candidate in expected_values) for value in actual]
        if quantifier == "ForAllValues" and not all(results):
            return False
        if quantifier != "ForAllValues" and not any(results):
            return False
    return True


def _test(test: str, value: str, expected: str) -> bool:
    if test in ("StringEquals", "ArnEquals"):
        return value == expected
    if test in ("StringLike", "ArnLike"):
        return _wildcard_match(expected, value)
    if test == "Bool":
        return value.lower() == expected.lower()
    raise ValueError(f"condition operator {test} is not supported by this checker; extend _test")


# --- recorded calls ---------------------------------------------------------------------------


def requests_for(call: AwsCall, topic_keys: dict[str, str]) -> list[Request]:
    """Return the authorization requests one recorded call needs, including those made on its behalf."""
    parameters = call.parameters
    service = call.service
    if service == "dynamodb":
        table = parameters.get("TableName", "")
        arn = table if table.startswith("arn:") else f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{table}"
        if parameters.get("IndexName"):
            arn += f"/index/{parameters['IndexName']}"
        return [Request(call.action, arn)]
    if service == "sns":
        topic = parameters.get("TopicArn") or parameters.get("TargetArn") or "*"
        requests = [Request(call.action, topic)]
        if call.operation == "Publish" and topic in topic_keys:
            requests += [Request("kms:GenerateDataKey", topic_keys[topic]), Request("kms:Decrypt", topic_keys[topic])]
        return requests
    if service == "sqs":
        name = urlsplit(parameters.get("QueueUrl", "")).path.rstrip("/").rsplit("/", 1)[-1]
        return [Request(call.action, f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{name}")]
    if service == "states":
        return [Request(call.action, parameters.get("stateMachineArn") or parameters.get("executionArn") or "*")]
    if service == "secretsmanager":
        return [Request(call.action, parameters.get("SecretId", "*"))]
    if service == "ec2" and call.operation in ("CreateTags", "DeleteTags"):
        instances = [value for key, value in sorted(parameters.items()) if key.startswith("ResourceId.")]
        tag_keys = [value for key, value in sorted(parameters.items()) if re.fullmatch(r"Tag\.\d+\.Key", key)]
        return [Request(call.action, f"arn:{PARTITION}:ec2:{REGION}:{ACCOUNT_ID}:instance/{instance}", {"aws:TagKeys": tag_keys}) for instance in instances]
    # Describe calls of EC2 and MGN act on no single resource.
    return [Request(call.action, "*")]


def check_calls(policies: StackPolicies, calls: Iterable[AwsCall]) -> list[Finding]:
    """Return a finding for each distinct request a function made that its role does not allow."""
    findings: list[Finding] = []
    seen: set[tuple[str, str, str, tuple]] = set()
    for call in calls:
        role = policies.function_roles.get(call.function_name)
        for request in requests_for(call, policies.topic_keys):
            key = (call.function_name, request.action, request.resource, tuple(sorted((k, tuple(v)) for k, v in request.context.items())))
            if key in seen:
                continue
            seen.add(key)
            if role is None:
                findings.append(Finding(call.function_name, request.action, request.resource, "the caller is not a function of this template"))
            elif not policies.allows(role, request):
                findings.append(Finding(call.function_name, request.action, request.resource, f"not allowed by {role}"))
    return findings


def state_machine_requests(definition: dict) -> list[Request]:
    """Return lambda:InvokeFunction requests for every Task state, in branches too."""
    requests = []
    for state in _all_states(definition):
        if state.get("Type") != "Task":
            continue
        resource = state["Resource"]
        if resource.startswith(f"arn:{PARTITION}:states:::lambda:invoke"):
            requests.append(Request("lambda:InvokeFunction", state["Parameters"]["FunctionName"]))
        elif ":lambda:" in resource:
            requests.append(Request("lambda:InvokeFunction", resource))
        else:
            service = resource.split(":::")[-1].split(":")[0] if ":::" in resource else resource
            requests.append(Request(f"{service}:{resource.rsplit(':', 1)[-1]}", "*"))
    return requests


def _all_states(definition: dict) -> Iterable[dict]:
    for state in definition.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from _all_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _all_states(state[key])


def check_state_machines(policies: StackPolicies) -> list[Finding]:
    findings = []
    for logical_id, role in policies.state_machine_roles.items():
        for request in state_machine_requests(policies.state_machine_definitions[logical_id]):
            if not policies.allows(role, request):
                findings.append(Finding(logical_id, request.action, request.resource, f"not allowed by {role}"))
    return findings


# --- policy lint ------------------------------------------------------------------------------


def lint_policies(policies: StackPolicies) -> list[Finding]:
    """Check the policies themselves, whatever calls were seen."""
    findings = []
    for role_id, role in policies.roles.items():
        for arn in role.managed_policy_arns:
            if arn not in ACCEPTED_MANAGED_POLICIES:
                findings.append(Finding(role_id, "*", arn, "managed policy not in ACCEPTED_MANAGED_POLICIES"))
        for statement in role.statements:
            findings.extend(_lint_statement(role_id, statement, policies.own_arns))
    return findings


def _lint_statement(role_id: str, statement: dict, own_arns: list[str]) -> list[Finding]:
    if statement["Effect"] != "Allow":
        return []
    findings = []
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", "*"))
    if "NotAction" in statement:
        findings.append(Finding(role_id, str(statement["NotAction"]), str(resources), "Allow with NotAction grants everything else"))
    for action in actions:
        if "*" in action or "?" in action:
            findings.append(Finding(role_id, action, str(resources), "wildcard action; name each action"))
        for resource in resources:
            if resource == "*":
                if action not in ACTIONS_REQUIRING_STAR:
                    findings.append(Finding(role_id, action, resource, "resource * for an action that supports resource-level permissions"))
            elif not any(resource.startswith(own) for own in own_arns):
                findings.append(Finding(role_id, action, resource, "resource is not one of the stack's own"))
        if action in TAG_WRITE_ACTIONS and not _confines_tag_keys(statement):
            findings.append(Finding(role_id, action, str(resources), f"tag writes must carry ForAllValues:StringLike aws:TagKeys {OWN_TAG_PATTERN}"))
    return findings


def _confines_tag_keys(statement: dict) -> bool:
    patterns = statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("aws:TagKeys")
    return patterns is not None and _as_list(patterns) == [OWN_TAG_PATTERN]
