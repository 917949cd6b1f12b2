"""Local stand-in for EventBridge rules on Step Functions execution status changes.

moto emits no EventBridge events, so this watcher polls the state machines' executions and,
when one ends with a status that a rule's pattern matches, sends the rule's target function the
same "Step Functions Execution Status Change" event AWS would, over the Lambda Invoke API.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timezone

from .template import ACCOUNT_ID, REGION, EventRuleSpec

log = logging.getLogger(__name__)

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# A target invocation that fails is tried again on the next poll, this many times in all.
MAX_DELIVERY_ATTEMPTS = 5


def matches(pattern: dict | list | str, event: dict | str) -> bool:
    """Match an event against the subset of EventBridge patterns the template uses: exact values in lists, nested objects."""
    if isinstance(pattern, dict):
        if not isinstance(event, dict):
            return False
        return all(key in event and matches(value, event[key]) for key, value in pattern.items())
    if isinstance(pattern, list):
        return any(matches(value, event) for value in pattern)
    return pattern == event


def _milliseconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def status_change_event(execution: dict) -> dict:
    """Build the event EventBridge sends for a finished execution (detail as documented by AWS)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": ACCOUNT_ID,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _milliseconds(execution.get("startDate")),
            "stopDate": _milliseconds(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


class ExecutionStatusWatcher:
    """Deliver execution status change events to the functions of matching rules."""

    def __init__(self, stepfunctions_client, lambda_client, state_machine_arns: list[str], rules: list[EventRuleSpec], poll_seconds: float = 0.5) -> None:
        self._stepfunctions = stepfunctions_client
        self._lambda = lambda_client
        self._state_machine_arns = state_machine_arns
        self._rules = [rule for rule in rules if rule.pattern and "aws.states" in rule.pattern.get("source", [])]
        self._poll_seconds = poll_seconds
        self._delivered: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execution-status-watcher", daemon=True)
        self.deliveries: list[tuple[str, str, str]] = []  # (execution name, status, function name)

    def start(self) -> None:
        if self._rules:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_seconds):
            try:
                self.poll_once()
            except Exception:
                log.exception("execution status watcher poll failed")

    def poll_once(self) -> None:
        for state_machine_arn in self._state_machine_arns:
            paginator = self._stepfunctions.get_paginator("list_executions")
            for page in paginator.paginate(stateMachineArn=state_machine_arn):
                for summary in page["executions"]:
                    arn = summary["executionArn"]
                    if summary["status"] in FINAL_STATUSES and arn not in self._delivered:
                        self._deliver(arn)

    def _deliver(self, execution_arn: str) -> None:
        execution = self._stepfunctions.describe_execution(executionArn=execution_arn)
        event = status_change_event(execution)
        delivered = True
        for rule in self._rules:
            if not matches(rule.pattern, event):
                continue
            for function_name in rule.target_function_names:
                delivered &= self._invoke(function_name, event)
        attempts = self._attempts.get(execution_arn, 0) + 1
        self._attempts[execution_arn] = attempts
        if delivered or attempts >= MAX_DELIVERY_ATTEMPTS:
            self._delivered.add(execution_arn)
            if not delivered:
                log.error("gave up delivering the status change of %s after %d attempts", execution_arn, attempts)

    def _invoke(self, function_name: str, event: dict) -> bool:
        response = self._lambda.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        payload = response["Payload"].read().decode()
        if response.get("FunctionError"):
            log.warning("%s failed on the status change of %s: %s", function_name, event["detail"]["name"], payload[:500])
            return False
        self.deliveries.append((event["detail"]["name"], event["detail"]["status"], function_name))
        return True
