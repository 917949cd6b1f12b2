"""`migration-validator executions list|show`: what the Step Functions console shows, in a terminal."""

from __future__ import annotations

import argparse
import sys

from .clients import AwsTargetUnknown, client_for
from .history import execution_history, render_execution
from .local_command import read_local_state


class StateMachineUnknown(Exception):
    """No state machine ARN was given and no local stack is running."""


def _target(arguments: argparse.Namespace) -> tuple[object, str]:
    local = read_local_state()
    state_machine_arn = arguments.state_machine_arn or (local and local["outputs"]["ValidationStateMachineArn"])
    if not state_machine_arn:
        raise StateMachineUnknown(
            "no state machine to read: start the local stack with `migration-validator local start`, "
            "or pass --state-machine-arn (the stack output ValidationStateMachineArn)"
        )
    use_local = arguments.state_machine_arn is None
    return client_for("stepfunctions", arguments.endpoint_url, use_local=use_local), state_machine_arn


def run_executions(arguments: argparse.Namespace) -> int:
    try:
        stepfunctions, state_machine_arn = _target(arguments)
    except (StateMachineUnknown, AwsTargetUnknown) as error:
        print(f"migration-validator: {error}", file=sys.stderr)
        return 2

    if arguments.action == "list":
        request = {"stateMachineArn": state_machine_arn, "maxResults": min(arguments.max, 1000)}
        if arguments.status:
            request["statusFilter"] = arguments.status
        executions = stepfunctions.list_executions(**request)["executions"]
        print(f"{'name':<64} {'status':<10} {'started':<20} duration")
        for execution in executions:
            stop = execution.get("stopDate")
            duration = f"{(stop - execution['startDate']).total_seconds():.1f} s" if stop else "-"
            print(f"{execution['name']:<64} {execution['status']:<10} {execution['startDate']:%Y-%m-%d %H:%M:%S} {duration}")
        return 0

    arn = arguments.execution
    if not arn.startswith("arn:"):
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + arn
    try:
        execution = stepfunctions.describe_execution(executionArn=arn)
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        print(f"migration-validator: execution {arguments.execution} not found; `executions list` shows the names", file=sys.stderr)
        return 1
    print(render_execution(execution, execution_history(stepfunctions, arn)))
    return 0
