"""Render an execution state by state, as the Step Functions console's event history shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class StateRun:
    """One state of an execution: when it ran, how it ended, and the errors of its attempts."""

    name: str
    type: str
    entered: datetime
    exited: datetime | None = None
    status: str = "RUNNING"
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    caught: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        return (self.exited - self.entered).total_seconds() if self.exited else None


_FAILED_TYPES = ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut")


def state_runs(events: list[dict]) -> list[StateRun]:
    """Group history events into the states they belong to, in order."""
    runs: list[StateRun] = []
    current: StateRun | None = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event["stateEnteredEventDetails"]
            current = StateRun(name=details["name"], type=kind[: -len("StateEntered")], entered=event["timestamp"])
            runs.append(current)
        elif current is None:
            continue
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            current.attempts += 1
        elif kind in _FAILED_TYPES:
            details = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
            current.errors.append(details.get("error") or kind)
        elif kind.endswith("StateExited"):
            current.exited = event["timestamp"]
            current.status = "FAILED" if current.errors and current.attempts == len(current.errors) else "SUCCEEDED"
            if current.status == "FAILED":
                current.caught = current.errors[-1]
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            if current.exited is None:
                current.exited = event["timestamp"]
                current.status = "FAILED"
    return runs


def render_execution(execution: dict, events: list[dict]) -> str:
    """Return a table of the execution's states with status, start offset, duration and errors."""
    started = execution["startDate"]
    lines = [
        f"execution  {execution['name']}",
        f"status     {execution['status']}",
        f"started    {started.isoformat(timespec='seconds')}",
    ]
    if execution.get("stopDate"):
        lines.append(f"duration   {(execution['stopDate'] - started).total_seconds():.2f} s")
    if execution.get("error"):
        lines.append(f"error      {execution['error']}: {execution.get('cause', '')}")
    lines.append("")
    lines.append(f"  {'state':<24} {'type':<8} {'status':<10} {'start':>8} {'duration':>9}  attempts  errors")
    for run in state_runs(events):
        start = f"+{(run.entered - started).total_seconds():.2f}s"
        duration = f"{run.duration_seconds:.2f}s" if run.duration_seconds is not None else "-"
        errors = summarize_errors(run.errors)
        status = "CAUGHT" if run.caught else run.status
        attempts = str(run.attempts) if run.attempts else ""
        lines.append(f"  {run.name:<24} {run.type:<8} {status:<10} {start:>8} {duration:>9}  {attempts:>8}  {errors}")
    return "\n".join(lines)


def summarize_errors(errors: list[str]) -> str:
    """Join the attempts' errors, counting repeats: a state retried while an instance boots fails alike many times."""
    groups: list[list] = []
    for error in errors:
        if groups and groups[-1][0] == error:
            groups[-1][1] += 1
        else:
            groups.append([error, 1])
    return ", ".join(error if count == 1 else f"{error} x{count}" for error, count in groups)


def render_record(record: dict | None) -> str:
    """Return the verdict an execution recorded, with its reason and the checks behind it."""
    if record is None:
        return "no verdict recorded for this execution"
    lines = [f"verdict    {record.get('verdict', '-')} ({record.get('reason', '-')})"]
    if record.get("error_cause"):
        lines.append(f"cause      {record['error_cause']}")
    for check in record.get("checks", []):
        if check.get("status") != "PASSED":
            lines.append(f"  {check['status']:<8} {check['check_id']:<28} {check['reason']:<20} {check['message']}")
    return "\n".join(lines)


def execution_history(stepfunctions, execution_arn: str) -> list[dict]:
    events: list[dict] = []
    paginator = stepfunctions.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events
