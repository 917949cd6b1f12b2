"""Intake through the local stack: every sample message, bad messages beside good ones in a
batch, duplicate deliveries, MGN launches, and one verdict when MGN and EC2 report one launch.

Messages go to LaunchQueue (or LaunchTopic) as in production, and what the stack did is read
back from Step Functions, ResultsTable, the dead-letter queue and VerdictTopic's subscriber.
Samples get fresh ids, so each test's launches are new to the session's stack.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from launch_cases import (
    BAD_MESSAGES,
    LAUNCH_MESSAGES,
    ec2_running_event,
    executions_named,
    fresh_instance_id,
    fresh_job_id,
    fresh_source_server_id,
    logged_message_outcomes,
    mgn_event,
    notifications_for_instance,
    records_for_instance,
    rejections,
    sample,
    sample_names,
    send,
    sns_envelope,
    wait_for_intake,
)
from migration_validator.launches import Launch, LaunchSource, LaunchType, execution_input, execution_name, read_message
from migration_validator_cli.history import execution_history, state_runs
from migration_validator_cli.local.session import execution_arn, plain_launch_message, read_record, wait_for_execution

pytestmark = pytest.mark.timeout(240)

EXPECTED_READINGS: dict[str, dict] = json.loads((LAUNCH_MESSAGES / "expected.json").read_text())
EXPECTED_REJECTIONS: dict[str, str] = json.loads((BAD_MESSAGES / "expected.json").read_text())
ID_FIELDS = ("instance_id", "job_id", "source_server_id", "request_id")


def states_entered(stack, name: str) -> list[str]:
    return [run.name for run in state_runs(execution_history(stack.client("stepfunctions"), execution_arn(stack, name)))]


def fresh_ids_for_samples() -> dict[str, str]:
    """Map every id the launch samples name to a fresh one of the same kind."""
    replacements: dict[str, str] = {}
    for reading in EXPECTED_READINGS.values():
        for field in ID_FIELDS:
            value = reading.get(field)
            if value is None or value in replacements:
                continue
            if field == "instance_id":
                replacements[value] = fresh_instance_id()
            elif field == "job_id" and reading["source"] == "mgn":
                replacements[value] = fresh_job_id()
            elif field == "source_server_id" and reading["source"] == "mgn":
                replacements[value] = fresh_source_server_id()
            else:
                replacements[value] = str(uuid.uuid4())
    # Longest first, so no id is replaced inside a longer one.
    return dict(sorted(replacements.items(), key=lambda item: -len(item[0])))


def expected_launch(reading: dict, replacements: dict[str, str]) -> Launch:
    """Build the launch expected.json describes, with the fresh ids, independently of the reader."""
    fields = {field: replacements.get(reading[field], reading[field]) for field in ID_FIELDS}
    return Launch(
        source=LaunchSource(reading["source"]),
        launch_type=LaunchType(reading["launch_type"]) if reading["launch_type"] else None,
        suite=reading["suite"],
        wave=reading["wave"],
        launch_failed=reading["launch_failed"],
        launch_state=reading["launch_state"],
        launched_at=reading["launched_at"],
        **fields,
    )


def expected_verdict(launch: Launch) -> tuple[str, str | None]:
    """MGN launches resolve to real instances; the other samples name instances EC2 does not have."""
    if launch.launch_failed:
        return "LAUNCH_FAILED", launch.launch_state
    if launch.source is LaunchSource.MGN:
        return "PASSED", None
    return "ERROR", "InstanceNotFound"


def test_every_launch_sample_gives_expected_outcome(stack, launch):
    replacements = fresh_ids_for_samples()
    names = sample_names(LAUNCH_MESSAGES)
    assert set(names) == set(EXPECTED_READINGS), "every sample needs an entry in expected.json"

    launches = {name: expected_launch(reading, replacements) for name, reading in EXPECTED_READINGS.items() if reading["outcome"] == "launch"}
    for mgn_launch in {item for item in launches.values() if item.source is LaunchSource.MGN and not item.launch_failed}:
        instance = launch(suite="web-app")
        stack.mgn.add_launch(mgn_launch.job_id, mgn_launch.source_server_id, instance.instance_id, launch_type=mgn_launch.launch_type.value)

    message_ids = {name: send(stack, sample(LAUNCH_MESSAGES, name, replacements)) for name in names}
    wait_for_intake(stack)

    dead = rejections(stack)
    logged = logged_message_outcomes(stack.function_log)
    for name in names:
        assert message_ids[name] not in dead, f"{name} was rejected: {dead.get(message_ids[name])}"
        if name not in launches:
            assert logged.get(message_ids[name]) == "launch message ignored", name

    for name, expected in launches.items():
        execution = wait_for_execution(stack, execution_name(expected))
        started_input = json.loads(execution["input"])
        verdict, reason = expected_verdict(expected)
        record = read_record(stack, execution["name"])
        assert started_input["launch"] == expected.to_input(), name
        assert record["verdict"] == verdict, name
        if reason:
            assert record["reason"] == reason, name


def test_bad_messages_rejected_beside_good_ones(stack, launch):
    good = [launch(suite="web-app") for _ in range(2)]
    good_bodies = [ec2_running_event(instance.instance_id) for instance in good]
    bad_names = sorted(EXPECTED_REJECTIONS)

    # Batches of ten, each with a good message among the bad ones, as StartValidation receives them.
    bodies = [(name, sample(BAD_MESSAGES, name)) for name in bad_names]
    bodies.insert(4, ("good-0", good_bodies[0]))
    bodies.insert(14, ("good-1", good_bodies[1]))
    sqs = stack.client("sqs")
    message_ids = {}
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [{"Id": str(index), "MessageBody": body} for index, (_, body) in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=stack.outputs["LaunchQueueUrl"], Entries=entries)
        assert response.get("Failed", []) == [], "SQS must accept every sample body"
        for success in response["Successful"]:
            message_ids[chunk[int(success["Id"])][0]] = success["MessageId"]
    wait_for_intake(stack)

    dead = rejections(stack)
    for name in bad_names:
        assert message_ids[name] in dead, f"{name} is not in the dead-letter queue"
        assert EXPECTED_REJECTIONS[name] in dead[message_ids[name]], name
    for instance, body in zip(good, good_bodies):
        execution = wait_for_execution(stack, execution_name(read_message(body)))
        assert execution["status"] == "SUCCEEDED"
        assert read_record(stack, execution["name"])["verdict"] == "PASSED"


def deliver_sequentially(stack, body: str) -> None:
    send(stack, body)
    wait_for_execution(stack, execution_name(read_message(body)))
    for _ in range(2):
        send(stack, body)
        wait_for_intake(stack)


def deliver_concurrently(stack, body: str) -> None:
    threads = [threading.Thread(target=send, args=(stack, body)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def deliver_raw_and_wrapped(stack, body: str) -> None:
    send(stack, body)
    send(stack, sns_envelope(stack, body))
    stack.client("sns").publish(TopicArn=stack.outputs["LaunchTopicArn"], Message=body)


@pytest.mark.parametrize("deliver", [deliver_sequentially, deliver_concurrently, deliver_raw_and_wrapped], ids=["sequential", "concurrent", "raw-and-sns"])
def test_three_deliveries_validate_once(stack, inbox, launch, deliver):
    instance = launch(suite="web-app")
    body = ec2_running_event(instance.instance_id)

    deliver(stack, body)
    wait_for_intake(stack)
    execution = wait_for_execution(stack, execution_name(read_message(body)))

    assert execution["status"] == "SUCCEEDED"
    assert len(executions_named(stack, f"ec2-{instance.instance_id}-")) == 1
    assert len(records_for_instance(stack, instance.instance_id)) == 1
    assert len(notifications_for_instance(inbox, instance.instance_id)) == 1


def test_mgn_test_launch_passes_with_source_recorded(stack, inbox, launch):
    instance = launch(suite="web-app")
    source_server_id, job_id = fresh_source_server_id(), fresh_job_id()
    stack.mgn.add_launch(job_id, source_server_id, instance.instance_id)
    body = mgn_event(source_server_id, job_id)

    send(stack, body)
    execution = wait_for_execution(stack, execution_name(read_message(body)))

    record = read_record(stack, execution["name"])
    notifications = notifications_for_instance(inbox, instance.instance_id)
    assert record["verdict"] == "PASSED"
    assert record["source"] == "mgn"
    assert record["launch_type"] == "test"
    assert record["source_server_id"] == source_server_id
    assert record["job_id"] == job_id
    assert record["instance_id"] == instance.instance_id
    assert len(notifications) == 1
    assert notifications[0]["MessageAttributes"]["launch_type"]["Value"] == "test"


def test_mgn_instance_reported_late_is_retried(stack, launch):
    instance = launch(suite="web-app")
    source_server_id, job_id = fresh_source_server_id(), fresh_job_id()
    stack.mgn.add_launch(job_id, source_server_id, None)
    body = mgn_event(source_server_id, job_id)

    send(stack, body)
    wait_until_job_described(stack, job_id)
    stack.mgn.add_launch(job_id, source_server_id, instance.instance_id)
    execution = wait_for_execution(stack, execution_name(read_message(body)))

    resolve = [run for run in state_runs(execution_history(stack.client("stepfunctions"), execution["executionArn"])) if run.name == "ResolveTarget"]
    assert read_record(stack, execution["name"])["verdict"] == "PASSED"
    assert resolve[0].attempts >= 2, "ResolveTarget must be retried while MGN has not reported the instance"
    assert "LaunchNotResolved" in resolve[0].errors


def wait_until_job_described(stack, job_id: str, timeout_seconds: float = 30) -> None:
    """Wait until ResolveTarget has asked MGN for the job at least once."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if any(job_id in (request.get("filters") or {}).get("jobIDs", []) for _, request in list(stack.mgn.requests)):
            return
        time.sleep(0.1)
    raise AssertionError(f"no DescribeJobs request for {job_id} within {timeout_seconds} s")


def test_mgn_launch_failed_records_without_tests(stack, inbox):
    source_server_id, job_id = fresh_source_server_id(), fresh_job_id()
    body = mgn_event(source_server_id, job_id, state="CUTOVER_LAUNCH_FAILED")

    send(stack, body)
    execution = wait_for_execution(stack, execution_name(read_message(body)))

    record = read_record(stack, execution["name"])
    notifications = inbox.for_execution(execution["name"])
    entered = states_entered(stack, execution["name"])
    assert record["verdict"] == "LAUNCH_FAILED"
    assert record["reason"] == "CUTOVER_LAUNCH_FAILED"
    assert record["launch_type"] == "cutover"
    assert record["source_server_id"] == source_server_id
    assert record["checks_total"] == 0
    assert "ResolveTarget" not in entered
    assert "RunSmokeTests" not in entered
    assert len(notifications) == 1
    assert notifications[0]["MessageAttributes"]["verdict"]["Value"] == "LAUNCH_FAILED"


def test_launch_reported_twice_validated_once(stack, inbox, launch):
    instance = launch(suite="web-app")
    source_server_id, job_id = fresh_source_server_id(), fresh_job_id()
    stack.mgn.add_launch(job_id, source_server_id, instance.instance_id)
    bodies = [mgn_event(source_server_id, job_id), ec2_running_event(instance.instance_id)]

    for body in bodies:
        send(stack, body)
    names = [wait_for_execution(stack, execution_name(read_message(body)))["name"] for body in bodies]

    last_states = sorted(states_entered(stack, name)[-1] for name in names)
    worked = [name for name in names if "RunSmokeTests" in states_entered(stack, name)]
    assert len(records_for_instance(stack, instance.instance_id)) == 1
    assert len(notifications_for_instance(inbox, instance.instance_id)) == 1
    assert len(worked) == 1
    assert "AlreadyValidated" in last_states


def test_deliberate_requests_validate_claimed_launch_again(stack, launch):
    instance = launch(suite="web-app")
    body = ec2_running_event(instance.instance_id)
    send(stack, body)
    first = wait_for_execution(stack, execution_name(read_message(body)))

    # An operator's re-run and a plain message are deliberate, so the launch claim does not stop them.
    rerun = read_message(body)
    stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.outputs["ValidationStateMachineArn"],
        name=execution_name(rerun, attempt=2),
        input=execution_input(rerun, attempt=2),
    )
    second = wait_for_execution(stack, execution_name(rerun, attempt=2))
    plain = plain_launch_message(instance.instance_id)
    send(stack, plain)
    third = wait_for_execution(stack, execution_name(read_message(plain)))

    assert read_record(stack, first["name"])["verdict"] == "PASSED"
    assert read_record(stack, second["name"])["verdict"] == "PASSED"
    assert read_record(stack, third["name"])["verdict"] == "PASSED"
    assert len(records_for_instance(stack, instance.instance_id)) == 3
