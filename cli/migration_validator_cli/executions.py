"""`migration-validator executions list|show`: what the Step Functions console shows, in a terminal.

An execution's status shows whether the workflow ran to its end; the verdict it recorded in
ResultsTable shows whether the instance works. Both are shown where the table can be read.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from boto3.dynamodb.types import TypeDeserializer

from .clients import AwsTargetUnknown, client_for
from .history import execution_history, render_execution, render_record
from .local_command import read_local_state

# BatchGetItem reads at most 100 keys per call.
BATCH_GET_KEYS = 100


class StateMachineUnknown(Exception):
    """No state machine ARN was given and no local stack is running."""


@dataclass
class Target:
    stepfunctions: object
    dynamodb: object | None
    state_machine_arn: str
    results_table: str | None


def _target(arguments: argparse.Namespace) -> Target:
    local = read_local_state() if arguments.state_machine_arn is None else None
    state_machine_arn = arguments.state_machine_arn or (local and local["outputs"]["ValidationStateMachineArn"])
    if not state_machine_arn:
        raise StateMachineUnknown(
            "no state machine to read: start the local stack with `migration-validator local start`, "
            "or pass --state-machine-arn (the stack output ValidationStateMachineArn)"
        )
    use_local = local is not None
    results_table = arguments.results_table or (local and local["outputs"]["ResultsTableName"])
    dynamodb = client_for("dynamodb", arguments.endpoint_url, use_local=use_local) if results_table else None
    return Target(client_for("stepfunctions", arguments.endpoint_url, use_local=use_local), dynamodb, state_machine_arn, results_table)


def read_records(target: Target, names: list[str]) -> dict[str, dict]:
    """Return the ResultsTable items of these executions, by execution name."""
    if not target.dynamodb or not names:
        return {}
    deserializer = TypeDeserializer()
    records = {}
    for start in range(0, len(names), BATCH_GET_KEYS):
        keys = [{"execution_name": {"S": name}} for name in names[start : start + BATCH_GET_KEYS]]
        request = {target.results_table: {"Keys": keys}}
        while request:
            response = target.dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(target.results_table, []):
                record = {key: deserializer.deserialize(value) for key, value in item.items()}
                records[record["execution_name"]] = record
            request = response.get("UnprocessedKeys") or None
    return records


def run_executions(arguments: argparse.Namespace) -> int:
    try:
        target = _target(arguments)
    except (StateMachineUnknown, AwsTargetUnknown) as error:
        print(f"migration-validator: {error}", file=sys.stderr)
        return 2
    if arguments.action == "list":
        return list_executions(target, arguments)
    return show_execution(target, arguments.execution)


def list_executions(target: Target, arguments: argparse.Namespace) -> int:
    request = {"stateMachineArn": target.state_machine_arn, "maxResults": arguments.max}
    if arguments.status:
        request["statusFilter"] = arguments.status
    executions = target.stepfunctions.list_executions(**request)["executions"]
    records = read_records(target, [execution["name"] for execution in executions])

    print(f"{'name':<64} {'status':<10} {'verdict':<13} {'started':<19} duration")
    for execution in executions:
        stop = execution.get("stopDate")
        duration = f"{(stop - execution['startDate']).total_seconds():.1f} s" if stop else "-"
        verdict = records.get(execution["name"], {}).get("verdict", "-")
        print(f"{execution['name']:<64} {execution['status']:<10} {verdict:<13} {execution['startDate']:%Y-%m-%d %H:%M:%S} {duration}")
    return 0


def show_execution(target: Target, execution: str) -> int:
    arn = execution
    if not arn.startswith("arn:"):
        arn = target.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + execution
    stepfunctions = target.stepfunctions
    try:
        described = stepfunctions.describe_execution(executionArn=arn)
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        print(f"migration-validator: execution {execution} not found; `executions list` shows the names", file=sys.stderr)
        return 1
    print(render_execution(described, execution_history(stepfunctions, arn)))
    if target.dynamodb:
        print()
        print(render_record(read_records(target, [described["name"]]).get(described["name"])))
    return 0
