"""Create the local stack's resources from template.yaml itself.

The SAM template is translated to CloudFormation with the SAM translator, the same step
``sam validate`` runs, and each resulting resource is created in moto's backends. The local
stack therefore has exactly the resources the template declares: remove one from the template
and it is gone locally too. Lambda functions are not created in moto; they become FunctionSpecs
served by the local Lambda Invoke endpoint, and event source mappings and EventBridge rules
become specs for the local poller and watcher.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

from .invoke import FunctionSpec

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
NO_VALUE = object()

# The SAM translator accepts only S3 locations for code and definitions, as `sam validate`
# does before packaging; local paths are replaced by these and read from disk separately.
_PLACEHOLDER_S3 = "s3://migration-validator-local/placeholder"


class TemplateNotSupported(Exception):
    """The template uses a resource type or intrinsic function the local stack cannot create."""

    def __init__(self, logical_id: str, detail: str) -> None:
        super().__init__(f"resource {logical_id}: {detail}")
        self.logical_id = logical_id


@dataclass(frozen=True)
class EventSourceMappingSpec:
    logical_id: str
    queue_arn: str
    queue_url: str
    function_name: str
    batch_size: int
    maximum_batching_window_seconds: float
    report_batch_item_failures: bool


@dataclass(frozen=True)
class EventRuleSpec:
    logical_id: str
    pattern: dict | None
    schedule: str | None
    target_function_names: tuple[str, ...]


@dataclass
class BuiltStack:
    """Resources, functions and event specs the template produced locally, by logical id."""

    name: str
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_source_mappings: list[EventSourceMappingSpec] = field(default_factory=list)
    event_rules: list[EventRuleSpec] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    resource_types: dict[str, str] = field(default_factory=dict)
    policies: dict[str, list[dict]] = field(default_factory=dict)  # role logical id -> inline policy documents


def translate(template_path: Path) -> tuple[dict, dict[str, Path]]:
    """Translate the SAM template; return the CloudFormation template and the local paths it named.

    The returned paths map a SAM logical id to its CodeUri, ContentUri or DefinitionUri.
    """
    sam = yaml_parse(template_path.read_text())
    base = template_path.parent
    local_paths: dict[str, Path] = {}
    code_uri = sam.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for logical_id, resource in sam.get("Resources", {}).items():
        properties = resource.setdefault("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            path = properties.get(key) or (code_uri if key == "CodeUri" and resource["Type"] == "AWS::Serverless::Function" else None)
            if isinstance(path, str) and not path.startswith("s3://"):
                local_paths[logical_id] = (base / path).resolve()
                properties[key] = f"{_PLACEHOLDER_S3}/{logical_id}"

    # The region comes from this session rather than the caller's environment, and managed
    # policies are referenced by ARN, so the translator needs no AWS call.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    translated = translator.translate(sam, parameter_values={}, get_managed_policy_map=lambda: {})
    return translated, local_paths


class StackBuilder:
    """Create every resource of a translated template in moto, resolving intrinsics on the way."""

    def __init__(self, template_path: Path, stack_name: str, parameter_overrides: dict[str, str], session: boto3.Session | None = None) -> None:
        self.template_path = template_path
        self.stack_name = stack_name
        self.session = session or boto3.Session(region_name=REGION)
        self.template, self.local_paths = translate(template_path)
        self.parameters = self._parameters(parameter_overrides)
        self.conditions: dict[str, bool] = {}
        self.stack = BuiltStack(name=stack_name)
        self._creating: list[str] = []
        self._creators: dict[str, Callable[[str, dict], None]] = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::SNS::Topic": self._sns_topic,
            "AWS::SNS::TopicPolicy": self._sns_topic_policy,
            "AWS::SNS::Subscription": self._sns_subscription,
            "AWS::SQS::Queue": self._sqs_queue,
            "AWS::SQS::QueuePolicy": self._sqs_queue_policy,
            "AWS::DynamoDB::Table": self._dynamodb_table,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::IAM::Role": self._iam_role,
            "AWS::Lambda::Function": self._lambda_function,
            "AWS::Lambda::LayerVersion": self._lambda_layer,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::Lambda::Permission": self._nothing,
            "AWS::Events::Rule": self._event_rule,
            "AWS::StepFunctions::StateMachine": self._state_machine,
        }

    # --- parameters, conditions, intrinsics -------------------------------------------------

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared = self.template.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateNotSupported("Parameters", f"overrides for undeclared parameters: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = overrides.get(name, spec.get("Default"))
            if value is None:
                raise TemplateNotSupported(name, "parameter has no default; pass a value in the local parameter overrides")
            if spec["Type"] == "CommaDelimitedList":
                value = [item for item in str(value).split(",")] if value != "" else [""]
            values[name] = value
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        """Resolve intrinsic functions in a template value; AWS::NoValue entries are dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Condition":
                return self._condition(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            self.ensure(logical_id)
            try:
                return self.stack.attributes[logical_id][attribute]
            except KeyError:
                raise TemplateNotSupported(logical_id, f"attribute {attribute} is not available locally") from None
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            variables = {name: self.resolve(item) for name, item in variables.items()}
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_variable(m.group(1), variables)), text)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self._condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(argument[0])
        if key == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if key == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b"]
        raise TemplateNotSupported("?", f"intrinsic function {key} is not supported locally")

    def _sub_variable(self, name: str, variables: dict) -> Any:
        if name in variables:
            return variables[name]
        if "." in name:
            return self._function("Fn::GetAtt", name.split(".", 1))
        return self._ref(name)

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/local",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        self.ensure(name)
        return self.stack.refs[name]

    # --- creation ---------------------------------------------------------------------------

    def build(self) -> BuiltStack:
        for logical_id in self.template["Resources"]:
            self.ensure(logical_id)
        for name, output in self.template.get("Outputs", {}).items():
            if "Condition" in output and not self._condition(output["Condition"]):
                continue
            self.stack.outputs[name] = self.resolve(output["Value"])
        return self.stack

    def ensure(self, logical_id: str) -> None:
        """Create a resource unless it exists, creating what it refers to first."""
        if logical_id in self.stack.refs:
            return
        if logical_id in self._creating:
            raise TemplateNotSupported(logical_id, f"circular reference: {' -> '.join(self._creating + [logical_id])}")
        resource = self.template["Resources"].get(logical_id)
        if resource is None:
            raise TemplateNotSupported(logical_id, "referenced, but not declared in the template")
        if "Condition" in resource and not self._condition(resource["Condition"]):
            self.stack.refs[logical_id] = NO_VALUE
            return
        creator = self._creators.get(resource["Type"])
        if creator is None:
            raise TemplateNotSupported(logical_id, f"type {resource['Type']} has no local implementation")
        self._creating.append(logical_id)
        try:
            creator(logical_id, self.resolve(copy.deepcopy(resource.get("Properties", {}))))
        finally:
            self._creating.pop()
        self.stack.resource_types[logical_id] = resource["Type"]
        log.debug("created %s (%s)", logical_id, resource["Type"])

    def _name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"[:64]

    def _client(self, service: str):
        return self.session.client(service)

    def _nothing(self, logical_id: str, properties: dict) -> None:
        self.stack.refs[logical_id] = self._name(logical_id)

    def _kms_key(self, logical_id: str, properties: dict) -> None:
        key = self._client("kms").create_key(Description=properties.get("Description", ""))["KeyMetadata"]
        self.stack.refs[logical_id] = key["KeyId"]
        self.stack.attributes[logical_id] = {"Arn": key["Arn"], "KeyId": key["KeyId"]}

    def _sns_topic(self, logical_id: str, properties: dict) -> None:
        attributes = {}
        if properties.get("KmsMasterKeyId"):
            attributes["KmsMasterKeyId"] = properties["KmsMasterKeyId"]
        if properties.get("DisplayName"):
            attributes["DisplayName"] = properties["DisplayName"]
        arn = self._client("sns").create_topic(Name=properties.get("TopicName", self._name(logical_id)), Attributes=attributes)["TopicArn"]
        self.stack.refs[logical_id] = arn
        self.stack.attributes[logical_id] = {"TopicArn": arn, "TopicName": arn.rsplit(":", 1)[1]}

    def _sns_topic_policy(self, logical_id: str, properties: dict) -> None:
        for topic_arn in properties["Topics"]:
            self._client("sns").set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(properties["PolicyDocument"]))
        self.stack.refs[logical_id] = self._name(logical_id)

    def _sns_subscription(self, logical_id: str, properties: dict) -> None:
        attributes = {}
        if "RawMessageDelivery" in properties:
            attributes["RawMessageDelivery"] = str(properties["RawMessageDelivery"]).lower()
        if "FilterPolicy" in properties:
            attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
        arn = self._client("sns").subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"], Attributes=attributes
        )["SubscriptionArn"]
        self.stack.refs[logical_id] = arn

    def _sqs_queue(self, logical_id: str, properties: dict) -> None:
        attributes = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled", "KmsMasterKeyId"):
            if key in properties:
                attributes[key] = str(properties[key]).lower() if isinstance(properties[key], bool) else str(properties[key])
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=properties.get("QueueName", self._name(logical_id)), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.stack.refs[logical_id] = url
        self.stack.attributes[logical_id] = {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url}

    def _sqs_queue_policy(self, logical_id: str, properties: dict) -> None:
        for url in properties["Queues"]:
            self._client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])})
        self.stack.refs[logical_id] = self._name(logical_id)

    def _dynamodb_table(self, logical_id: str, properties: dict) -> None:
        name = properties.get("TableName", self._name(logical_id))
        request = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        if properties.get("SSESpecification", {}).get("SSEEnabled"):
            request["SSESpecification"] = {"Enabled": True}
        dynamodb = self._client("dynamodb")
        arn = dynamodb.create_table(**request)["TableDescription"]["TableArn"]
        if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        self.stack.refs[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": arn}

    def _log_group(self, logical_id: str, properties: dict) -> None:
        name = properties.get("LogGroupName", f"/local/{self._name(logical_id)}")
        self._client("logs").create_log_group(logGroupName=name)
        self.stack.refs[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"}

    def _iam_role(self, logical_id: str, properties: dict) -> None:
        iam = self._client("iam")
        name = properties.get("RoleName", self._name(logical_id))
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]))["Role"]["Arn"]
        documents = []
        for policy in properties.get("Policies", []):
            # SAM's policy templates omit Version; IAM then assumes 2008-10-17, which moto rejects.
            policy["PolicyDocument"].setdefault("Version", "2012-10-17")
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
            documents.append(policy["PolicyDocument"])
        self.stack.policies[logical_id] = documents
        self.stack.refs[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": arn, "RoleId": name}

    def _lambda_layer(self, logical_id: str, properties: dict) -> None:
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{self._name(logical_id)}:1"
        self.stack.refs[logical_id] = arn
        self.stack.attributes[logical_id] = {"LayerVersionArn": arn, "LocalPath": self._local_path(logical_id)}

    def _local_path(self, translated_id: str) -> Path:
        # SAM names a LayerVersion "<logical id><hash>"; functions keep their logical id.
        for sam_id, path in self.local_paths.items():
            if translated_id == sam_id or (translated_id.startswith(sam_id) and re.fullmatch(r"[0-9a-f]{10}", translated_id[len(sam_id):])):
                return path
        raise TemplateNotSupported(translated_id, "has no local CodeUri or ContentUri")

    def _lambda_function(self, logical_id: str, properties: dict) -> None:
        name = properties.get("FunctionName", self._name(logical_id))
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        environment = {key: str(value) for key, value in properties.get("Environment", {}).get("Variables", {}).items()}

        # A layer's contents are mounted at /opt on Lambda; locally /opt stands for the layer's directory.
        layer_paths = [self._layer_path(arn_) for arn_ in properties.get("Layers", [])]
        if layer_paths:
            environment = {key: value.replace("/opt", str(layer_paths[0]), 1) if value.startswith("/opt") else value for key, value in environment.items()}

        self.stack.functions[logical_id] = FunctionSpec(
            name=name,
            handler=properties["Handler"],
            code_dir=self._local_path(logical_id),
            environment=environment,
            timeout_seconds=float(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
        )
        self.stack.refs[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": arn, "Role": properties.get("Role")}

    def _layer_path(self, layer_arn: str) -> Path:
        for logical_id, attributes in self.stack.attributes.items():
            if attributes.get("LayerVersionArn") == layer_arn:
                return attributes["LocalPath"]
        raise TemplateNotSupported(layer_arn, "layer is not part of this template")

    def _function_name(self, reference: str) -> str:
        return reference.rsplit(":", 1)[-1] if reference.startswith("arn:") else reference

    def _event_source_mapping(self, logical_id: str, properties: dict) -> None:
        queue_arn = properties["EventSourceArn"]
        if ":sqs:" not in queue_arn:
            raise TemplateNotSupported(logical_id, f"only SQS event sources run locally, not {queue_arn}")
        queue_name = queue_arn.rsplit(":", 1)[1]
        queue_url = self._client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.stack.event_source_mappings.append(
            EventSourceMappingSpec(
                logical_id=logical_id,
                queue_arn=queue_arn,
                queue_url=queue_url,
                function_name=self._function_name(properties["FunctionName"]),
                batch_size=int(properties.get("BatchSize", 10)),
                maximum_batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
            )
        )
        self.stack.refs[logical_id] = self._name(logical_id)

    def _event_rule(self, logical_id: str, properties: dict) -> None:
        targets = tuple(self._function_name(t["Arn"]) for t in properties.get("Targets", []) if ":lambda:" in t["Arn"])
        self.stack.event_rules.append(
            EventRuleSpec(
                logical_id=logical_id,
                pattern=properties.get("EventPattern"),
                schedule=properties.get("ScheduleExpression"),
                target_function_names=targets,
            )
        )
        name = properties.get("Name", self._name(logical_id))
        self.stack.refs[logical_id] = name
        self.stack.attributes[logical_id] = {"Arn": f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{name}"}

    def _state_machine(self, logical_id: str, properties: dict) -> None:
        sam_id = next(sam_id for sam_id in self.local_paths if sam_id == logical_id)
        definition = self.local_paths[sam_id].read_text()
        for name, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + name + "}", str(value))
        leftover = re.findall(r"\$\{[A-Za-z0-9_]+\}", definition)
        if leftover:
            raise TemplateNotSupported(logical_id, f"definition placeholders without a substitution: {sorted(set(leftover))}")
        name = properties.get("StateMachineName", self._name(logical_id))
        arn = self._client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=properties["RoleArn"],
            type=properties.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        self.stack.refs[logical_id] = arn
        self.stack.attributes[logical_id] = {"Arn": arn, "Name": name, "Definition": definition}
