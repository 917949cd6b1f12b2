"""`migration-validator reconcile`: run the reconciliation sweep now and print what it sent.

Schedules never fire on the local stack, so this invokes ReconcileFunction over the Lambda
Invoke API, the same function the 15-minute schedule invokes on AWS.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3
from botocore.config import Config

from .local_command import RunningStack

# ReconcileFunction's timeout in template.yaml is 300 s; the client waits a little longer.
INVOKE_READ_TIMEOUT_SECONDS = 330


class ReconcileFailed(Exception):
    """ReconcileFunction returned a function error."""


def invoke_reconcile(lambda_client, function_name: str, grace_minutes: int | None) -> list[dict]:
    """Invoke ReconcileFunction once; return the launch messages it sent."""
    event = {} if grace_minutes is None else {"grace_minutes": grace_minutes}
    response = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise ReconcileFailed(f"{function_name} failed: {payload.get('errorType')}: {payload.get('errorMessage')}")
    return payload["sent"]


def run_reconcile(arguments: argparse.Namespace) -> int:
    if arguments.grace_minutes is not None and arguments.grace_minutes < 0:
        print(f"migration-validator: --grace-minutes {arguments.grace_minutes} is invalid: give 0 or more", file=sys.stderr)
        return 2

    if arguments.function_name:
        config = Config(read_timeout=INVOKE_READ_TIMEOUT_SECONDS, retries={"total_max_attempts": 1})
        lambda_client = boto3.client("lambda", endpoint_url=arguments.endpoint_url, config=config)
        function_name = arguments.function_name
    else:
        local = RunningStack.from_state_file()
        if local is None:
            print(
                "migration-validator: no stack to reconcile: start the local stack with `migration-validator local start`, "
                "or pass --function-name (the stack output ReconcileFunctionName)",
                file=sys.stderr,
            )
            return 2
        lambda_client = local.client("lambda", read_timeout=INVOKE_READ_TIMEOUT_SECONDS)
        function_name = local.outputs["ReconcileFunctionName"]

    try:
        sent = invoke_reconcile(lambda_client, function_name, arguments.grace_minutes)
    except ReconcileFailed as error:
        print(f"migration-validator: {error}", file=sys.stderr)
        return 1
    for entry in sent:
        print(json.dumps(entry))
    print(f"reconcile: {len(sent)} launch(es) without a verdict sent to LaunchQueue", file=sys.stderr)
    return 0
