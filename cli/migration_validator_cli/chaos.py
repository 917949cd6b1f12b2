"""`migration-validator local chaos`: many launches under injected faults, then count what came out.

The local stack runs with a ``FaultPlan``: Lambda service errors and timeouts, DynamoDB
throttling and lost responses, SNS publish errors, and SSH connections cut mid-suite by a
proxy in front of each instance's sshd. Launches of five kinds (healthy, web service down,
unknown suite, MGN launch, failed MGN launch) are published to LaunchTopic, some of them twice.
The counts come from scanning ResultsTable and a queue subscribed to VerdictTopic: every
launch should have exactly one record and one notification.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from boto3.dynamodb.types import TypeDeserializer

from migration_validator.tags import HOST_KEY, SSH_USER

from .local.faults import CuttingTcpProxy, FaultDice, FaultPlan
from .local.instances import WEB_ROUTES, register_instance
from .local.session import VerdictInbox, plain_launch_message
from .local.stack import LocalSettings, LocalStack
from .local.targets import free_loopback_address, generate_ssh_key, start_http_server, start_sshd
from .local.template import ACCOUNT_ID, REGION
from .paths import LOCAL_STATE_DIR

log = logging.getLogger(__name__)

# sshd listens here on each chaos instance; the cutting proxy takes the instance's port 22.
UPSTREAM_SSH_PORT = 2222
# Share of each launch kind, in this order, for every run of 20 launches.
KIND_PATTERN = ("healthy",) * 12 + ("web-down",) * 3 + ("bad-suite",) * 2 + ("mgn",) * 2 + ("mgn-failed",)
EXPECTED_VERDICTS = {"healthy": "PASSED", "web-down": "FAILED", "bad-suite": "ERROR", "mgn": "PASSED", "mgn-failed": "LAUNCH_FAILED"}
# Long enough that a cut SSH connection is retried rather than ending as UNREACHABLE.
CHAOS_BOOT_GRACE_SECONDS = "300"


@dataclass(frozen=True)
class ChaosOptions:
    launches: int = 200
    instances: int = 3
    duplicate_rate: float = 0.1  # share of launch messages published twice, as SNS may deliver them
    timeout_seconds: float = 1800
    faults: FaultPlan = field(default_factory=FaultPlan)
    log_dir: Path = LOCAL_STATE_DIR / "chaos"


@dataclass(frozen=True)
class PlannedLaunch:
    """One launch to publish; ``key`` is stored with its record and sent in its notification (wave or MGN job id)."""

    key: str
    kind: str
    body: str


@dataclass(frozen=True)
class ChaosCounts:
    launches: int
    records: int
    notifications: int
    duplicate_records: int
    duplicate_notifications: int
    lost: int
    verdicts: dict[str, int]
    unexpected: list[str]  # one line per record whose verdict is not the one its launch kind should get

    @property
    def unexpected_verdicts(self) -> int:
        return len(self.unexpected)

    def line(self) -> str:
        return (
            f"launches={self.launches} records={self.records} notifications={self.notifications} "
            f"duplicate_records={self.duplicate_records} duplicate_notifications={self.duplicate_notifications} lost={self.lost}"
        )

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicate_records == 0 and self.duplicate_notifications == 0


@dataclass
class ChaosInstance:
    """A real sshd and HTTP server on a loopback address, with a cutting proxy on port 22."""

    address: str
    host_key_fingerprint: str
    user: str
    instance_ids: list[str]


def run_chaos(options: ChaosOptions, out: TextIO = sys.stdout) -> int:
    options.log_dir.mkdir(parents=True, exist_ok=True)
    # moto's interpreter logs every failed execution with its whole state; keep that out of the report.
    logging.basicConfig(filename=options.log_dir / "stack.log", level=logging.INFO, force=True)
    settings = LocalSettings(
        stack_name="mv-chaos",
        parameter_overrides=(("BootGraceSeconds", CHAOS_BOOT_GRACE_SECONDS),),
        faults=options.faults,
    )
    log_path = options.log_dir / "functions.log"
    started = time.monotonic()
    with open(log_path, "w") as log_sink, LocalStack(settings=settings, log_sink=log_sink) as stack, ExitStack() as cleanup:
        key_pair = generate_ssh_key()
        stack.set_ssh_key(key_pair.private_key)
        inbox = VerdictInbox(stack, name="chaos-inbox")
        healthy = [start_instance(stack, cleanup, key_pair.public_key, options.log_dir / f"instance-{i}", http=True) for i in range(options.instances)]
        web_down = start_instance(stack, cleanup, key_pair.public_key, options.log_dir / "instance-web-down", http=False)

        plan = plan_launches(stack, options.launches, healthy, web_down)
        print(f"chaos: {len(plan)} launches on {options.instances + 1} instances, faults {options.faults}", file=out, flush=True)
        publish(stack, plan, options.duplicate_rate, stack.fault_dice)
        counts = wait_for_outcomes(stack, inbox, plan, options.timeout_seconds, out)

        wall = time.monotonic() - started
        print(f"faults injected: {dict(sorted(stack.fault_dice.injected.items()))}", file=out)
        for line in counts.unexpected:
            print(f"unexpected verdict: {line}", file=out)
        print(f"verdicts: {dict(sorted(counts.verdicts.items()))} unexpected_verdicts={counts.unexpected_verdicts}", file=out)
        print(f"wall time: {wall:.1f} s; logs in {options.log_dir}", file=out)
        print(counts.line(), file=out, flush=True)
    return 0 if counts.clean else 1


def start_instance(stack: LocalStack, cleanup: ExitStack, public_key: str, workdir: Path, *, http: bool) -> ChaosInstance:
    """Start sshd behind a cutting proxy (and a web server unless ``http`` is False) and register one instance."""
    address = free_loopback_address(ports=(22, 80, UPSTREAM_SSH_PORT))
    sshd = cleanup.enter_context(start_sshd(address, UPSTREAM_SSH_PORT, public_key, workdir))
    proxy = CuttingTcpProxy((address, 22), (address, UPSTREAM_SSH_PORT), stack.fault_dice)
    proxy.start()
    cleanup.callback(proxy.stop)
    if http:
        cleanup.enter_context(start_http_server(address, 80, WEB_ROUTES))
    instance = ChaosInstance(address, sshd.host_key_fingerprint, sshd.user, [])
    instance.instance_ids.append(register(stack, instance))
    return instance


def register(stack: LocalStack, instance: ChaosInstance) -> str:
    """Register one more EC2 instance at the instance's address; each MGN launch needs its own."""
    return register_instance(stack.client("ec2"), instance.address, {HOST_KEY: instance.host_key_fingerprint, SSH_USER: instance.user})


def plan_launches(stack: LocalStack, count: int, healthy: list[ChaosInstance], web_down: ChaosInstance) -> list[PlannedLaunch]:
    run_id = uuid.uuid4().hex[:8]
    launches = []
    for index in range(count):
        kind = KIND_PATTERN[index % len(KIND_PATTERN)]
        target = healthy[index % len(healthy)]
        wave = f"chaos-{run_id}-{index:05d}"
        if kind == "healthy":
            body = plain_launch_message(target.instance_ids[0], suite="web-app", wave=wave)
        elif kind == "web-down":
            body = plain_launch_message(web_down.instance_ids[0], suite="web-app", wave=wave)
        elif kind == "bad-suite":
            body = plain_launch_message(target.instance_ids[0], suite="no-such-suite", wave=wave)
        else:
            job_id = "mgnjob-" + uuid.uuid4().hex[:17]
            source_server_id = "s-" + uuid.uuid4().hex[:17]
            if kind == "mgn":
                instance_id = register(stack, target)
                stack.mgn.add_launch(job_id, source_server_id, instance_id)
            launches.append(PlannedLaunch(job_id, kind, mgn_launch_event(job_id, source_server_id, failed=kind == "mgn-failed")))
            continue
        launches.append(PlannedLaunch(wave, kind, body))
    return launches


def mgn_launch_event(job_id: str, source_server_id: str, *, failed: bool) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "MGN Source Server Launch Result",
            "source": "aws.mgn",
            "account": ACCOUNT_ID,
            "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:mgn:{REGION}:{ACCOUNT_ID}:source-server/{source_server_id}"],
            "detail": {"state": "TEST_LAUNCH_FAILED" if failed else "TEST_LAUNCH_SUCCEEDED", "job-id": job_id},
        }
    )


def publish(stack: LocalStack, plan: list[PlannedLaunch], duplicate_rate: float, dice: FaultDice) -> None:
    sns = stack.client("sns")
    topic_arn = stack.outputs["LaunchTopicArn"]
    for launch in plan:
        sns.publish(TopicArn=topic_arn, Message=launch.body)
        if dice.roll("duplicate_delivery", duplicate_rate):
            sns.publish(TopicArn=topic_arn, Message=launch.body)


def wait_for_outcomes(stack: LocalStack, inbox: VerdictInbox, plan: list[PlannedLaunch], timeout_seconds: float, out: TextIO) -> ChaosCounts:
    """Wait until every execution has ended and no record or notification arrived for a while, then count."""
    deadline = time.monotonic() + timeout_seconds
    quiet_since = time.monotonic()
    last: tuple | None = None
    while time.monotonic() < deadline:
        time.sleep(2)
        counts = count_outcomes(stack, inbox, plan)
        running = running_executions(stack)
        progress = (counts.records, counts.notifications, running)
        if progress != last:
            print(f"chaos: records={counts.records} notifications={counts.notifications} running={running}", file=out, flush=True)
            last, quiet_since = progress, time.monotonic()
        # The status watcher delivers stopped executions within a second; ten quiet seconds
        # after the last execution ended leave room for its retries.
        if running == 0 and time.monotonic() - quiet_since >= 10:
            break
    return count_outcomes(stack, inbox, plan)


def running_executions(stack: LocalStack) -> int:
    stepfunctions = stack.client("stepfunctions")
    paginator = stepfunctions.get_paginator("list_executions")
    pages = paginator.paginate(stateMachineArn=stack.outputs["ValidationStateMachineArn"], statusFilter="RUNNING")
    return sum(len(page["executions"]) for page in pages)


def count_outcomes(stack: LocalStack, inbox: VerdictInbox, plan: list[PlannedLaunch]) -> ChaosCounts:
    """Count records in ResultsTable and notifications on the inbox queue per launch key."""
    records = [item for item in scan_records(stack) if item.get("verdict")]
    notifications = [json.loads(envelope["Message"]) for envelope in inbox.drain()]
    record_keys = Counter(launch_key(item) for item in records)
    notification_keys = Counter(launch_key(message) for message in notifications)
    expected = {launch.key: EXPECTED_VERDICTS[launch.kind] for launch in plan}

    verdicts = Counter(item["verdict"] for item in records if launch_key(item) in expected)
    unexpected = [
        f"{item['execution_name']}: {item['verdict']} ({item.get('reason')}), expected {expected[launch_key(item)]}"
        for item in records
        if launch_key(item) in expected and item["verdict"] != expected[launch_key(item)]
    ]
    lost = sum(1 for key in expected if record_keys[key] == 0 or notification_keys[key] == 0)
    return ChaosCounts(
        launches=len(plan),
        records=len(records),
        notifications=len(notifications),
        duplicate_records=sum(count - 1 for count in record_keys.values() if count > 1),
        duplicate_notifications=sum(count - 1 for count in notification_keys.values() if count > 1),
        lost=lost,
        verdicts=dict(verdicts),
        unexpected=unexpected,
    )


def launch_key(item: dict) -> str | None:
    return item.get("wave") or item.get("job_id")


def scan_records(stack: LocalStack, attempts: int = 5) -> list[dict]:
    """Scan ResultsTable. moto 5.2.5 iterates the table's dict without a lock, so a scan during
    writes by the function workers can raise RuntimeError; it is then run again."""
    deserializer = TypeDeserializer()
    paginator = stack.client("dynamodb").get_paginator("scan")
    for attempt in range(1, attempts + 1):
        try:
            pages = list(paginator.paginate(TableName=stack.outputs["ResultsTableName"], ConsistentRead=True))
        except RuntimeError:
            if attempt == attempts:
                raise
            time.sleep(0.2)
            continue
        return [{key: deserializer.deserialize(value) for key, value in item.items()} for page in pages for item in page["Items"]]
    return []
