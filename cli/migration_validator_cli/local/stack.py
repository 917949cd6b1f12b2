"""The local stack: the whole product on one machine, with no AWS account and no Docker.

- moto's backends run in this process, with its Step Functions interpreter executing the real
  ASL file; a ThreadedMotoServer serves the same backends over HTTP to the function workers.
- Every resource comes from template.yaml (see template.py).
- Lambda tasks reach the local Lambda Invoke endpoint (AWS_ENDPOINT_URL_LAMBDA), which runs
  each function's handler in warm worker processes with the function's own environment.
- A poller stands in for each SQS event source mapping, and a watcher for the EventBridge rule
  on execution status changes.
- moto has no MGN, so a stand-in serves the MGN calls the workflow makes (AWS_ENDPOINT_URL_MGN).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import boto3
from botocore.config import Config
from moto import mock_aws
from moto.server import ThreadedMotoServer

from .events import ExecutionStatusWatcher
from .faults import FaultDice, FaultPlan
from .gateway import AwsGateway
from .invoke import FunctionSpec, LambdaInvokeEndpoint
from .mgn import MgnStandIn
from .poller import SqsEventSourcePoller
from .template import REGION, BuiltStack, StackBuilder

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

# Credentials and settings every local process gets, so that no boto3 client ever falls back
# to the instance metadata address or to a real account.
LOCAL_AWS_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}

LOOPBACK_NETWORK = "127.0.0.0/8"

# Powertools settings for local workers: no X-Ray daemon runs here.
LOCAL_FUNCTION_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


def use_local_aws_environment() -> None:
    """Point this process at dummy credentials and a fixed region, dropping any profile."""
    os.environ.update(LOCAL_AWS_ENVIRONMENT)
    os.environ.pop("AWS_PROFILE", None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class LocalSettings:
    """Template parameter overrides that suit a laptop rather than a migration wave."""

    stack_name: str = "mv-local"
    parameter_overrides: tuple[tuple[str, str], ...] = ()
    max_workers_per_function: int = 4
    retry_visibility_seconds: int = 1
    # Route the functions' AWS calls through a per-function gateway that records them.
    aws_gateway: bool = False
    # Faults to inject; a plan implies the gateway, which injects the DynamoDB and SNS faults.
    faults: FaultPlan | None = None
    # Suites directory for the functions instead of the SuitesLayer's content (test_suites/).
    suites_dir: Path | None = None


class LocalStack:
    """Start and stop the local stack; a context manager."""

    def __init__(self, template_path: Path = DEFAULT_TEMPLATE, settings: LocalSettings = LocalSettings(), log_sink: TextIO | None = None) -> None:
        self.template_path = template_path
        self.settings = settings
        self.log_sink = log_sink if log_sink is not None else sys.stderr
        self.stack: BuiltStack | None = None
        self.endpoint: LambdaInvokeEndpoint | None = None
        self._mock = None
        self._server: ThreadedMotoServer | None = None
        self._pollers: list[SqsEventSourcePoller] = []
        self._watcher: ExecutionStatusWatcher | None = None
        self._saved_lambda_endpoint: str | None = None
        self.moto_url: str | None = None
        self.mgn: MgnStandIn | None = None
        self.gateway: AwsGateway | None = None
        self.parameter_overrides: dict[str, str] = {}
        self.fault_dice: FaultDice | None = FaultDice(settings.faults) if settings.faults else None

    def __enter__(self) -> "LocalStack":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def client(self, service: str):
        return boto3.client(service, region_name=REGION)

    def start(self) -> None:
        use_local_aws_environment()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        moto_port = _free_port()
        # The moto server logs every request through werkzeug, and moto's interpreter logs each
        # error a Catch handles; the function logs and the execution history carry the details.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._server.start()
        moto_url = f"http://127.0.0.1:{moto_port}"
        self.moto_url = moto_url

        overrides = dict(self.settings.parameter_overrides)
        # Local instances live on loopback; an instance registered with any other address
        # (moto assigns 10.x addresses by default) must never be contacted from this machine.
        overrides.setdefault("AllowedTargetNetworks", LOOPBACK_NETWORK)
        if "SshKeySecretArn" not in overrides:
            overrides["SshKeySecretArn"] = self.client("secretsmanager").create_secret(
                Name=f"{self.settings.stack_name}/ssh-key", SecretString="not set yet: the demo or a test stores a key here"
            )["ARN"]
        self.parameter_overrides = overrides
        self.stack = StackBuilder(self.template_path, self.settings.stack_name, overrides).build()

        self.mgn = MgnStandIn()
        self.mgn.start()
        base_environment = {
            **LOCAL_AWS_ENVIRONMENT,
            **LOCAL_FUNCTION_ENVIRONMENT,
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ENDPOINT_URL_MGN": self.mgn.url,
        }
        self.endpoint = LambdaInvokeEndpoint(
            self._worker_functions(moto_url),
            base_environment,
            max_workers_per_function=self.settings.max_workers_per_function,
            log_sink=self.log_sink,
        )
        self.endpoint.faults = self.fault_dice
        self.endpoint.start()
        # moto's Step Functions interpreter creates its Lambda client in this process; boto3
        # sends that client to the endpoint named here.
        self._saved_lambda_endpoint = os.environ.get("AWS_ENDPOINT_URL_LAMBDA")
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.endpoint.url

        lambda_client = self.lambda_client()
        for mapping in self.stack.event_source_mappings:
            poller = SqsEventSourcePoller(
                self.client("sqs"),
                mapping.queue_url,
                mapping.queue_arn,
                mapping.function_name,
                lambda_client,
                batch_size=mapping.batch_size,
                maximum_batching_window_seconds=mapping.maximum_batching_window_seconds,
                report_batch_item_failures=mapping.report_batch_item_failures,
                retry_visibility_seconds=self.settings.retry_visibility_seconds,
            )
            poller.start()
            self._pollers.append(poller)

        state_machines = [arn for logical_id, arn in self.stack.refs.items() if self.stack.resource_types.get(logical_id) == "AWS::StepFunctions::StateMachine"]
        self._watcher = ExecutionStatusWatcher(self.client("stepfunctions"), lambda_client, state_machines, self.stack.event_rules)
        self._watcher.start()
        log.info("local stack %s started: moto at %s, Lambda endpoint at %s", self.settings.stack_name, moto_url, self.endpoint.url)

    def _worker_functions(self, moto_url: str) -> list[FunctionSpec]:
        """Return the function specs the workers run, with the local settings' endpoints and suites."""
        functions = list(self.stack.functions.values())
        if self.settings.suites_dir is not None:
            functions = [
                replace(spec, environment={**spec.environment, "SUITES_DIR": str(self.settings.suites_dir)}) if "SUITES_DIR" in spec.environment else spec
                for spec in functions
            ]
        if self.settings.aws_gateway or self.settings.faults:
            self.gateway = AwsGateway({"mgn": self.mgn.url}, moto_url, self.fault_dice)
            functions = [
                replace(spec, environment={**spec.environment, "AWS_ENDPOINT_URL": self.gateway.url_for(spec.name), "AWS_ENDPOINT_URL_MGN": self.gateway.url_for(spec.name)})
                for spec in functions
            ]
        return functions

    def lambda_client(self):
        """A Lambda client for the local endpoint that waits out the longest function timeout.

        A retried Invoke would run the function again, so the client does not retry.
        """
        longest = max((spec.timeout_seconds for spec in self.stack.functions.values()), default=60)
        config = Config(read_timeout=longest + 30, retries={"total_max_attempts": 1})
        return boto3.client("lambda", region_name=REGION, endpoint_url=self.endpoint.url, config=config)

    def stop(self) -> None:
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        if self._watcher:
            self._watcher.stop()
        if self.endpoint:
            self.endpoint.stop()
        if self._saved_lambda_endpoint is None:
            os.environ.pop("AWS_ENDPOINT_URL_LAMBDA", None)
        else:
            os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self._saved_lambda_endpoint
        if self.gateway:
            self.gateway.stop()
        if self.mgn:
            self.mgn.stop()
        if self._server:
            self._server.stop()
        if self._mock:
            self._mock.stop()

    @property
    def outputs(self) -> dict:
        return self.stack.outputs

    @property
    def watcher(self) -> ExecutionStatusWatcher:
        return self._watcher

    def set_ssh_key(self, private_key: str) -> None:
        """Store the private key the smoke tests log in with, as an operator stores it on AWS."""
        secret_arn = self.stack.functions["RunSmokeTestsFunction"].environment["SSH_KEY_SECRET_ARN"]
        self.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=private_key)
