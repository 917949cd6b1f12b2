"""`migration-validator demo`: the main job end to end on the local stack.

Two migrated web servers launch: a healthy one, and one whose web service did not start. For
each, a launch message goes to LaunchTopic, and the demo prints the execution state by state,
the DynamoDB record and the SNS verdict.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from .history import execution_history, render_execution
from .local.instances import launch_instance
from .local.session import VerdictInbox, plain_launch_message, validate_via_topic
from .local.stack import LocalSettings, LocalStack
from .local.targets import generate_ssh_key
from .paths import LOCAL_STATE_DIR

DEMO_SETTINGS = LocalSettings(stack_name="mv-demo", parameter_overrides=(("BootGraceSeconds", "60"),))


def run_demo(out: TextIO = sys.stdout) -> int:
    """Run the demo; return 0 when the healthy server PASSED and the broken one FAILED."""
    workdir = LOCAL_STATE_DIR / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "functions.log"
    started = time.monotonic()

    with open(log_path, "w") as log_sink, LocalStack(settings=DEMO_SETTINGS, log_sink=log_sink) as stack:
        print(f"Local stack up: resources from template.yaml, function logs in {log_path}", file=out)
        private_key, public_key = generate_ssh_key()
        stack.set_ssh_key(private_key)
        inbox = VerdictInbox(stack)
        ec2 = stack.client("ec2")

        healthy = launch_instance(ec2, workdir / "healthy", public_key)
        broken = launch_instance(ec2, workdir / "broken", public_key, http=False)
        verdicts = {}
        try:
            for title, instance in (("healthy web server", healthy), ("web server whose web service is stopped", broken)):
                print(f"\n=== {title}: instance {instance.instance_id} at {instance.address} ===", file=out)
                body = plain_launch_message(instance.instance_id, suite="web-app", wave="demo-wave-1")
                print(f"launch message published to LaunchTopic: {body}", file=out)
                validation = validate_via_topic(stack, inbox, body)
                print_validation(stack, validation, out)
                verdicts[title] = (validation.record or {}).get("verdict")
        finally:
            healthy.stop()
            broken.stop()

    print(f"\n=== summary (demo took {time.monotonic() - started:.1f} s) ===", file=out)
    status = 0
    for (title, verdict), expected in zip(verdicts.items(), ("PASSED", "FAILED")):
        outcome = "as expected" if verdict == expected else f"UNEXPECTED, expected {expected}"
        print(f"  {title}: {verdict} ({outcome})", file=out)
        if verdict != expected:
            status = 1
    return status


def print_validation(stack: LocalStack, validation, out: TextIO) -> None:
    print("\n-- execution, state by state --", file=out)
    events = execution_history(stack.client("stepfunctions"), validation.execution_arn)
    print(render_execution(validation.execution, events), file=out)

    record = validation.record
    print("\n-- DynamoDB record (ResultsTable) --", file=out)
    if record is None:
        print("no record", file=out)
    else:
        for key in ("verdict", "reason", "instance_id", "suite", "wave", "source", "checks_total", "checks_failed", "host_key_fingerprint", "recorded_at", "notified_at"):
            if key in record:
                print(f"  {key:<22} {record[key]}", file=out)
        for check in record.get("checks", []):
            print(f"    {check['status']:<8} {check['check_id']:<28} {check['reason']:<20} {check['message']}", file=out)

    print("\n-- SNS verdict (VerdictTopic) --", file=out)
    if not validation.notifications:
        print("no notification", file=out)
    for notification in validation.notifications:
        attributes = {key: value["Value"] for key, value in notification.get("MessageAttributes", {}).items()}
        message = json.loads(notification["Message"])
        print(f"  subject     {notification.get('Subject')}", file=out)
        print(f"  attributes  {json.dumps(attributes, sort_keys=True)}", file=out)
        for key in ("failed_checks", "warnings"):
            listed = ", ".join(f"{c['check_id']} ({c['reason']})" for c in message.get(key, [])) or "none"
            print(f"  {key.replace('_', ' '):<11} {listed}", file=out)
