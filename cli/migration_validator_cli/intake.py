"""`migration-validator intake parse` and `validate`: read launch messages, send plain ones."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

from migration_validator.launches import Ignored, Launch, execution_name, read_message
from migration_validator.suites import list_suites

from .clients import AwsTargetUnknown, client_for
from .local_command import read_local_state
from .paths import SUITES_DIR


def reading_summary(file: str, body: str) -> dict:
    """Describe how StartValidation would read one message body, without running anything."""
    reading = read_message(body)
    summary = {
        "file": file,
        "outcome": None,
        "source": None,
        "launch_type": None,
        "instance_id": None,
        "job_id": None,
        "source_server_id": None,
        "reason": None,
    }
    if isinstance(reading, Launch):
        summary.update(
            outcome="launch",
            source=reading.source.value,
            launch_type=reading.launch_type.value if reading.launch_type else None,
            instance_id=reading.instance_id,
            job_id=reading.job_id,
            source_server_id=reading.source_server_id,
            execution_name=execution_name(reading),
        )
        if reading.launch_failed:
            summary["reason"] = f"the migration service reported {reading.launch_state}; the verdict is LAUNCH_FAILED without tests"
    elif isinstance(reading, Ignored):
        summary.update(outcome="ignored", source=reading.source.value if reading.source else None, reason=reading.reason)
    else:
        summary.update(outcome="rejected", reason=reading.reason)
    return summary


def run_intake_parse(files: list[str]) -> int:
    """Print one JSON line per file; exit 1 when a file cannot be read at all."""
    status = 0
    for file in files:
        try:
            body = Path(file).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(json.dumps({"file": file, "outcome": "rejected", "reason": f"cannot read the file: {error}"}))
            status = 1
            continue
        print(json.dumps(reading_summary(file, body)))
    return status


def plain_message(instance_id: str, suite: str | None, wave: str | None) -> dict:
    message = {"instance_id": instance_id, "request_id": str(uuid.uuid4())}
    if suite:
        message["suite"] = suite
    if wave:
        message["wave"] = wave
    return message


def run_validate(arguments: argparse.Namespace) -> int:
    """Send a plain launch message per instance to the launch queue, each with a fresh request id."""
    # The deployed SuitesLayer is built from this checkout's test_suites/, so a suite missing
    # here would end each execution in ERROR (SuiteNotFound), so it is rejected before anything is sent.
    if arguments.suite and arguments.suite not in list_suites(SUITES_DIR):
        print(
            f"migration-validator: suite {arguments.suite!r} not found in {SUITES_DIR}; "
            f"available suites: {', '.join(list_suites(SUITES_DIR))}",
            file=sys.stderr,
        )
        return 2
    local = read_local_state()
    queue_url = arguments.queue_url or (local and local["outputs"]["LaunchQueueUrl"])
    if not queue_url:
        print(
            "migration-validator: no launch queue: start the local stack with `migration-validator local start`, "
            "or pass --queue-url (the stack output LaunchQueueUrl)",
            file=sys.stderr,
        )
        return 2
    try:
        sqs = client_for("sqs", arguments.endpoint_url, use_local=arguments.queue_url is None)
    except AwsTargetUnknown as error:
        print(f"migration-validator: {error}", file=sys.stderr)
        return 2

    status = 0
    for instance_id in arguments.instance_ids:
        message = plain_message(instance_id, arguments.suite, arguments.wave)
        reading = read_message(json.dumps(message))
        if not isinstance(reading, Launch):
            print(json.dumps({"instance_id": instance_id, "outcome": "rejected", "reason": reading.reason}))
            status = 1
            continue
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        print(json.dumps({"instance_id": instance_id, "outcome": "sent", "request_id": message["request_id"], "execution_name": execution_name(reading)}))
    return status
