"""Tests of reading launch messages and naming their Step Functions executions."""

import json
import random
import re
from pathlib import Path

import pytest

from migration_validator import launches
from migration_validator.launches import (
    MAX_ATTEMPT,
    MAX_BODY_BYTES,
    AttemptInvalid,
    Ignored,
    Launch,
    LaunchInvalid,
    LaunchSource,
    LaunchType,
    Rejected,
    execution_input,
    execution_name,
    read_message,
)

CASES = Path(__file__).resolve().parents[1] / "cases"
LAUNCH_MESSAGES = CASES / "launch-messages"
BAD_MESSAGES = CASES / "bad-messages"
EXPECTED_READINGS: dict[str, dict] = json.loads((LAUNCH_MESSAGES / "expected.json").read_text())
EXPECTED_REJECTIONS: dict[str, str] = json.loads((BAD_MESSAGES / "expected.json").read_text())

OUTCOME_TYPES = {"launch": Launch, "ignored": Ignored, "rejected": Rejected}
LAUNCH_SAMPLES = sorted(name for name, reading in EXPECTED_READINGS.items() if reading["outcome"] == "launch")
IGNORED_SAMPLES = sorted(name for name, reading in EXPECTED_READINGS.items() if reading["outcome"] == "ignored")
NAME_CHARACTERS = re.compile(r"[0-9A-Za-z_-]+")
INPUT_KEYS = {
    "attempt",
    "instance_id",
    "job_id",
    "launch_failed",
    "launch_key",
    "launch_state",
    "launch_type",
    "launched_at",
    "request_id",
    "source",
    "source_server_id",
    "suite",
    "wave",
}
INSTANCE = "i-0a1b2c3d4e5f60718"
MACHINE = "6f1c2a9e-0b3d-4e5f-8a7b-1c2d3e4f5a6b"
JOB = "d4c3b2a1-6f5e-4b7a-9c8d-5d4c3b2a1f0e"


def sample_text(directory: Path, name: str) -> str:
    return (directory / name).read_text(encoding="utf-8")


def read_sample(name: str) -> Launch | Ignored | Rejected:
    return read_message(sample_text(LAUNCH_MESSAGES, name))


def read_launch(name: str) -> Launch:
    result = read_sample(name)
    assert isinstance(result, Launch), f"{name}: {result}"
    return result


def plain_launch(**fields) -> Launch:
    values = {"source": LaunchSource.PLAIN, "launch_type": None, "instance_id": INSTANCE, "job_id": None,
              "source_server_id": None}
    values.update(fields)
    return Launch(**values)


def assert_safe_reason(reason: str) -> None:
    assert reason.isascii(), f"reason has non-ASCII characters: {reason!r}"
    assert reason.isprintable(), f"reason has control characters: {reason!r}"
    assert len(reason) <= 600, f"reason is {len(reason)} characters long"


# The case files and their tables


@pytest.mark.parametrize(
    "directory, table",
    [(LAUNCH_MESSAGES, EXPECTED_READINGS), (BAD_MESSAGES, EXPECTED_REJECTIONS)],
    ids=["launch-messages", "bad-messages"],
)
def test_case_files_match_table(directory, table):
    files = {path.name for path in directory.iterdir()} - {"expected.json", "README.md"}

    assert files - set(table) == set(), "case files missing from expected.json"
    assert set(table) - files == set(), "expected.json names files that do not exist"


def test_bad_messages_corpus_size():
    assert len(EXPECTED_REJECTIONS) >= 30


# Samples that are launches or ignored


@pytest.mark.parametrize("name", sorted(EXPECTED_READINGS))
def test_sample_outcome(name):
    result = read_sample(name)

    assert type(result) is OUTCOME_TYPES[EXPECTED_READINGS[name]["outcome"]], result


@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
@pytest.mark.parametrize(
    "field",
    ["instance_id", "job_id", "source_server_id", "launch_failed", "launch_state", "launched_at", "suite", "wave",
     "request_id"],
)
def test_sample_launch_field(name, field):
    launch = read_launch(name)

    assert getattr(launch, field) == EXPECTED_READINGS[name][field]


@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
def test_sample_launch_source_and_type(name):
    launch = read_launch(name)
    expected = EXPECTED_READINGS[name]

    assert launch.source == LaunchSource(expected["source"])
    if expected["launch_type"] is None:
        assert launch.launch_type is None
    else:
        assert launch.launch_type == LaunchType(expected["launch_type"])


@pytest.mark.parametrize("name", IGNORED_SAMPLES)
def test_sample_ignored(name):
    result = read_sample(name)
    expected = EXPECTED_READINGS[name]

    assert isinstance(result, Ignored), result
    assert result.source == (LaunchSource(expected["source"]) if expected["source"] else None)
    assert expected["reason_contains"] in result.reason
    assert_safe_reason(result.reason)


def test_mgn_sample_readings():
    for name in ("mgn-test-launch-succeeded.raw.json", "mgn-test-launch-succeeded.sns-in-sqs.json"):
        launch = read_launch(name)
        assert launch.source is LaunchSource.MGN, name
        assert launch.launch_type is LaunchType.TEST, name
        assert launch.job_id == "mgnjob-04ca7d0d3fb6afa3e", name
        assert launch.source_server_id == "s-3f2e1d0c9b8a76543", name
        assert launch.instance_id is None, name
        assert launch.launch_failed is False, name

    failed = read_launch("mgn-cutover-launch-failed.raw.json")
    assert failed.source is LaunchSource.MGN
    assert failed.launch_type is LaunchType.CUTOVER
    assert failed.launch_failed is True
    assert failed.launch_state == "CUTOVER_LAUNCH_FAILED"


def test_ec2_and_plain_sample_readings():
    ec2 = read_launch("ec2-running.sns-in-sqs.json")
    assert ec2.source is LaunchSource.EC2
    assert ec2.instance_id == INSTANCE
    assert ec2.launched_at == "2026-10-12T14:05:00Z"

    plain = read_launch("plain.raw.json")
    assert plain.source is LaunchSource.PLAIN
    assert plain.instance_id == INSTANCE
    assert plain.suite == "web-app"
    assert plain.wave == "wave-1"


SAME_LAUNCH_GROUPS = [
    [
        "mgn-test-launch-succeeded.raw.json",
        "mgn-test-launch-succeeded.sns-in-sqs.json",
        "mgn-test-launch-succeeded.eventbridge-sns-string.json",
    ],
    ["ec2-running.raw.json", "ec2-running.sns-in-sqs.json"],
]


@pytest.mark.parametrize("names", SAME_LAUNCH_GROUPS, ids=lambda names: names[0].split(".")[0])
def test_wrappings_give_same_launch(names):
    first, *others = [read_launch(name) for name in names]

    for name, other in zip(names[1:], others):
        assert other == first, name
        assert other.key() == first.key(), name
        assert execution_name(other) == execution_name(first), name
        assert execution_input(other).encode() == execution_input(first).encode(), name


# Rejected messages


@pytest.mark.parametrize("name", sorted(EXPECTED_REJECTIONS))
def test_bad_message_rejected(name):
    result = read_message(sample_text(BAD_MESSAGES, name))

    assert isinstance(result, Rejected), result
    assert EXPECTED_REJECTIONS[name] in result.reason


@pytest.mark.parametrize("name", sorted(EXPECTED_REJECTIONS))
def test_bad_message_reason_is_safe(name):
    result = read_message(sample_text(BAD_MESSAGES, name))

    assert isinstance(result, Rejected), result
    assert_safe_reason(result.reason)


def test_body_over_size_limit_rejected():
    message = '{"instance_id": "i-0a1b2c3d4e5f60718"}'
    body = message + " " * (MAX_BODY_BYTES + 1 - len(message))

    result = read_message(body)

    assert isinstance(result, Rejected), result
    assert f"{MAX_BODY_BYTES + 1} bytes, over the {MAX_BODY_BYTES}-byte" in result.reason


def test_body_at_size_limit_accepted():
    message = '{"instance_id": "i-0a1b2c3d4e5f60718"}'
    body = message + " " * (MAX_BODY_BYTES - len(message))

    assert isinstance(read_message(body), Launch)


def test_body_size_counts_utf8_bytes():
    filler = "\u00e9" * (MAX_BODY_BYTES // 2)  # under the limit in characters, over it in bytes
    body = json.dumps({"instance_id": INSTANCE, "note": filler}, ensure_ascii=False)

    result = read_message(body)

    assert len(body) < MAX_BODY_BYTES
    assert isinstance(result, Rejected), result
    assert "SQS message size limit" in result.reason


def test_deeply_nested_arrays_rejected():
    body = "[" * 100_000 + "]" * 100_000

    result = read_message(body)

    assert isinstance(result, Rejected), result
    assert "too deeply" in result.reason


def test_reason_truncates_long_value():
    body = json.dumps({"instance_id": "i-" + "0" * 10_000})

    result = read_message(body)

    assert isinstance(result, Rejected), result
    assert "10002 characters in all" in result.reason
    assert_safe_reason(result.reason)


def test_reason_limits_unknown_keys():
    body = json.dumps({"instance_id": INSTANCE, **{f"extra{number:02}": 1 for number in range(20)}})

    result = read_message(body)

    assert isinstance(result, Rejected), result
    assert '"extra07" and 12 more' in result.reason


@pytest.mark.parametrize(
    "body", [None, b'{"instance_id": "i-0a1b2c3d4e5f60718"}', 42, ["{}"], {"instance_id": INSTANCE}]
)
def test_non_text_body_rejected(body):
    result = read_message(body)

    assert isinstance(result, Rejected), result
    assert "must be text" in result.reason


def mutations(text: str, generator: random.Random):
    """Yield broken copies of ``text``: cut short at many points, and with single characters replaced."""
    for end in range(0, len(text), 5):
        yield text[:end]
    for _ in range(60):
        position = generator.randrange(len(text))
        replacement = generator.choice(['"', "{", "}", "[", "\\", "\x00", "\u202e", "1", "x", ",", ":"])
        yield text[:position] + replacement + text[position + 1 :]


@pytest.mark.parametrize("name", sorted(EXPECTED_READINGS))
def test_mutated_sample_never_raises(name):
    generator = random.Random(name)  # fixed seed per sample, so failures repeat

    for body in mutations(sample_text(LAUNCH_MESSAGES, name), generator):
        result = read_message(body)
        assert isinstance(result, (Launch, Ignored, Rejected)), repr(body)
        if isinstance(result, Rejected):
            assert_safe_reason(result.reason)


def test_internal_error_becomes_rejected(monkeypatch):
    def broken_reader(message):
        raise RuntimeError("reader broke\x00 here")

    monkeypatch.setattr(launches, "_read_plain", broken_reader)

    result = read_message('{"instance_id": "i-0a1b2c3d4e5f60718"}')

    assert isinstance(result, Rejected), result
    assert "internal error (RuntimeError: reader broke\\u0000 here)" in result.reason
    assert_safe_reason(result.reason)


# Layers of wrapping


def raw_mgn_event() -> dict:
    return json.loads(sample_text(LAUNCH_MESSAGES, "mgn-test-launch-succeeded.raw.json"))


def sns_envelope(message: str, spelling: dict | None = None) -> str:
    envelope = {"Type": "Notification", "MessageId": "0b8c6d2e-3f4a-4b5c-8d9e-1f2a3b4c5d6e", "Message": message}
    for key, new_key in (spelling or {}).items():
        envelope[new_key] = envelope.pop(key)
    return json.dumps(envelope)


@pytest.mark.parametrize(
    "encode",
    [
        lambda event: json.dumps(json.dumps(event)),
        lambda event: json.dumps(json.dumps(json.dumps(event))),
        lambda event: sns_envelope(json.dumps(json.dumps(event))),
        lambda event: json.dumps(sns_envelope(json.dumps(event))),
        lambda event: sns_envelope(sns_envelope(json.dumps(event))),
    ],
    ids=["string-2", "string-3", "sns-string-3", "string-sns-3", "sns-sns-3"],
)
def test_three_layers_accepted(encode):
    result = read_message(encode(raw_mgn_event()))

    assert isinstance(result, Launch), result
    assert result.job_id == "mgnjob-04ca7d0d3fb6afa3e"


@pytest.mark.parametrize(
    "encode",
    [
        lambda event: json.dumps(json.dumps(json.dumps(json.dumps(event)))),
        lambda event: sns_envelope(json.dumps(json.dumps(json.dumps(event)))),
        lambda event: sns_envelope(sns_envelope(sns_envelope(json.dumps(event)))),
    ],
    ids=["string-4", "sns-string-4", "sns-sns-sns-4"],
)
def test_four_layers_rejected(encode):
    result = read_message(encode(raw_mgn_event()))

    assert isinstance(result, Rejected), result
    assert "more than 3 layers deep" in result.reason


@pytest.mark.parametrize(
    "spelling",
    [{}, {"Type": "type", "Message": "message"}, {"Type": "type"}, {"Message": "message"}],
    ids=["Type-Message", "type-message", "type-Message", "Type-message"],
)
def test_sns_field_spellings_accepted(spelling):
    result = read_message(sns_envelope(json.dumps(raw_mgn_event()), spelling))

    assert isinstance(result, Launch), result


def test_sns_unsubscribe_confirmation_ignored():
    body = json.dumps({"Type": "UnsubscribeConfirmation", "TopicArn": "arn:aws:sns:us-west-2:111122223333:launches",
                       "Message": "You have chosen to deactivate subscription", "Token": "2336412f37fb"})

    result = read_message(body)

    assert isinstance(result, Ignored), result
    assert result.source is None


# Field rules


@pytest.mark.parametrize(
    "instance_id, valid",
    [
        ("i-0a1b2c3d", True),
        ("i-0a1b2c3d4e5f60718", True),
        ("i-0a1b2c3", False),
        ("i-0a1b2c3d4", False),
        ("i-0a1b2c3d4e5f6071", False),
        ("i-0a1b2c3d4e5f607189", False),
        ("i-0a1b2c3g", False),
        ("I-0a1b2c3d", False),
        ("i-0a1b2c3d\n", False),
        (" i-0a1b2c3d", False),
        ("i-", False),
        ("", False),
    ],
)
def test_plain_instance_id_format(instance_id, valid):
    result = read_message(json.dumps({"instance_id": instance_id}))

    assert isinstance(result, Launch) is valid, result


@pytest.mark.parametrize(
    "suite, valid",
    [("web-app", True), ("a", True), ("0db", True), ("a" * 64, True), ("a" * 65, False), ("-web", False),
     ("web_app", False), ("Web", False), ("web app", False), ("web/app", False)],
)
def test_plain_suite_format(suite, valid):
    result = read_message(json.dumps({"instance_id": INSTANCE, "suite": suite}))

    assert isinstance(result, Launch) is valid, result


@pytest.mark.parametrize(
    "wave, valid",
    [("wave-1", True), ("Welle 3 (München)", True), ("w" * 128, True), ("w" * 129, False), ("", False),
     ("wave\t1", False), ("wave\u200b1", False)],
)
def test_plain_wave_format(wave, valid):
    result = read_message(json.dumps({"instance_id": INSTANCE, "wave": wave}))

    assert isinstance(result, Launch) is valid, result


def test_plain_null_fields_count_as_absent():
    result = read_message(json.dumps({"instance_id": INSTANCE, "suite": None, "wave": None, "request_id": None}))

    assert result == plain_launch()


@pytest.mark.parametrize(
    "state, launch_type, failed",
    [
        ("TEST_LAUNCH_SUCCEEDED", LaunchType.TEST, False),
        ("TEST_LAUNCH_FAILED", LaunchType.TEST, True),
        ("CUTOVER_LAUNCH_SUCCEEDED", LaunchType.CUTOVER, False),
        ("CUTOVER_LAUNCH_FAILED", LaunchType.CUTOVER, True),
    ],
)
def test_mgn_launch_states(state, launch_type, failed):
    event = raw_mgn_event()
    event["detail"]["state"] = state

    result = read_message(json.dumps(event))

    assert isinstance(result, Launch), result
    assert result.launch_type is launch_type
    assert result.launch_failed is failed
    assert result.launch_state == state


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_mgn_arn_partitions_accepted(partition):
    event = raw_mgn_event()
    event["resources"] = [f"arn:{partition}:mgn:us-west-2:111122223333:source-server/s-3f2e1d0c9b8a76543"]

    assert isinstance(read_message(json.dumps(event)), Launch)


def test_cloudendure_ids_stored_lowercase():
    message = {
        "replica": {"machine": MACHINE.upper(), "machineCloudId": INSTANCE},
        "job": {"id": JOB.upper(), "type": "TEST_LAUNCH", "participatingMachines": [MACHINE.upper()]},
    }

    result = read_message(json.dumps(message))

    assert isinstance(result, Launch), result
    assert result.source_server_id == MACHINE
    assert result.job_id == JOB


def test_cloudendure_failed_job_is_validated():
    message = {"replica": {"machine": MACHINE, "machineCloudId": INSTANCE},
               "job": {"id": JOB, "type": "CUTOVER_LAUNCH", "status": "FAILED"}}

    result = read_message(json.dumps(message))

    assert isinstance(result, Launch), result
    assert result.launch_failed is False
    assert result.launch_state == "FAILED"


# Launch objects


@pytest.mark.parametrize(
    "fields, bad_field",
    [
        ({"instance_id": "i-123"}, "instance_id"),
        ({"source": "plain"}, "source"),
        ({"launch_type": "test"}, "launch_type"),
        ({"launch_failed": "no"}, "launch_failed"),
        ({"instance_id": None}, "instance_id"),
        ({"job_id": "mgnjob-04ca7d0d3fb6afa3e"}, "job_id"),
        ({"source_server_id": "s-3f2e1d0c9b8a76543"}, "source_server_id"),
        ({"suite": "Web App"}, "suite"),
        ({"wave": "x" * 129}, "wave"),
        ({"request_id": "a|b"}, "request_id"),
        ({"launched_at": "2026-10-12T14:05:00"}, "launched_at"),
        ({"launch_state": "running\n"}, "launch_state"),
        ({"source": LaunchSource.EC2}, "launched_at"),
        ({"source": LaunchSource.MGN, "instance_id": None}, "job_id"),
        ({"source": LaunchSource.CLOUDENDURE, "source_server_id": MACHINE.upper()}, "source_server_id"),
    ],
)
def test_launch_rejects_invalid_field(fields, bad_field):
    with pytest.raises(LaunchInvalid) as raised:
        plain_launch(**fields)

    assert raised.value.field == bad_field


@pytest.mark.parametrize(
    "launch, key",
    [
        (
            Launch(LaunchSource.MGN, LaunchType.TEST, None, "mgnjob-04ca7d0d3fb6afa3e", "s-3f2e1d0c9b8a76543",
                   launch_state="TEST_LAUNCH_SUCCEEDED"),
            "mgn|mgnjob-04ca7d0d3fb6afa3e|s-3f2e1d0c9b8a76543",
        ),
        (
            Launch(LaunchSource.EC2, None, INSTANCE, None, None, launched_at="2026-10-12T14:05:00Z"),
            "ec2|i-0a1b2c3d4e5f60718|2026-10-12T14:05:00Z",
        ),
        (
            Launch(LaunchSource.CLOUDENDURE, LaunchType.TEST, INSTANCE, JOB, MACHINE),
            f"cloudendure|{JOB}|{MACHINE}|{INSTANCE}",
        ),
        (Launch(LaunchSource.CLOUDENDURE, None, INSTANCE, None, MACHINE), f"cloudendure|-|{MACHINE}|{INSTANCE}"),
        (plain_launch(request_id="run-7"), "plain|i-0a1b2c3d4e5f60718|run-7"),
        (plain_launch(suite="web-app"), "plain|i-0a1b2c3d4e5f60718|-"),
    ],
    ids=["mgn", "ec2", "cloudendure-job", "cloudendure-no-job", "plain-request", "plain-no-request"],
)
def test_launch_key(launch, key):
    assert launch.key() == key


@pytest.mark.parametrize(
    "first, second",
    [
        (
            Launch(LaunchSource.EC2, None, INSTANCE, None, None, launched_at="2026-10-12T14:05:00Z"),
            Launch(LaunchSource.EC2, None, INSTANCE, None, None, launched_at="2026-10-12T18:30:00Z"),
        ),
        (plain_launch(request_id="run-7"), plain_launch(request_id="run-8")),
        (plain_launch(), plain_launch(request_id="run-7")),
        (
            Launch(LaunchSource.MGN, LaunchType.TEST, None, "mgnjob-04ca7d0d3fb6afa3e", "s-3f2e1d0c9b8a76543",
                   launch_state="TEST_LAUNCH_SUCCEEDED"),
            Launch(LaunchSource.MGN, LaunchType.TEST, None, "mgnjob-0d9c8b7a6f5e4d3c2", "s-3f2e1d0c9b8a76543",
                   launch_state="TEST_LAUNCH_SUCCEEDED"),
        ),
        (
            Launch(LaunchSource.CLOUDENDURE, None, INSTANCE, None, MACHINE),
            Launch(LaunchSource.CLOUDENDURE, LaunchType.TEST, INSTANCE, JOB, MACHINE),
        ),
        (
            plain_launch(),
            Launch(LaunchSource.CLOUDENDURE, None, INSTANCE, None, MACHINE),
        ),
    ],
    ids=["ec2-times", "plain-requests", "plain-request-or-none", "mgn-jobs", "cloudendure-job-or-none", "sources"],
)
def test_different_launches_different_names(first, second):
    assert first.key() != second.key()
    assert execution_name(first) != execution_name(second)


@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
def test_to_input_has_every_key(name):
    launch = read_launch(name)

    assert set(launch.to_input()) == INPUT_KEYS - {"attempt"}


# Execution names


@pytest.mark.parametrize("attempt", [1, 2, 10, MAX_ATTEMPT])
@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
def test_execution_name_valid_for_step_functions(name, attempt):
    execution = execution_name(read_launch(name), attempt)

    assert 1 <= len(execution) <= 80, execution
    assert NAME_CHARACTERS.fullmatch(execution), execution


@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
def test_execution_name_readable_prefix(name):
    launch = read_launch(name)
    readable_id = launch.source_server_id if launch.source is LaunchSource.MGN else launch.instance_id

    assert execution_name(launch).startswith(f"{launch.source.value}-{readable_id}-")


def test_execution_name_deterministic():
    first = read_launch("mgn-test-launch-succeeded.raw.json")
    again = read_launch("mgn-test-launch-succeeded.raw.json")

    assert execution_name(first) == execution_name(first)
    assert execution_name(first) == execution_name(again)
    assert execution_name(first) == "mgn-s-3f2e1d0c9b8a76543-f6090dd7978c3fac"


def test_execution_names_unique_across_samples():
    sample_launches = [read_launch(name) for name in LAUNCH_SAMPLES]
    keys = {launch.key() for launch in sample_launches}
    names = {execution_name(launch) for launch in sample_launches}

    assert len(names) == len(keys)


def test_execution_name_attempt_suffix():
    launch = read_launch("ec2-running.raw.json")
    first = execution_name(launch)

    assert re.fullmatch(r"ec2-i-0a1b2c3d4e5f60718-[0-9a-f]{16}", first), first
    assert execution_name(launch, 2) == first + "-a2"
    assert execution_name(launch, 17) == first + "-a17"
    assert execution_name(launch, 1) == first


ADVERSARIAL_LAUNCHES = [
    plain_launch(wave="\u00dc" * 128, request_id="R" * 128, suite="s" * 64),
    plain_launch(wave="\U0001f680" * 128, request_id="0" + ":-._" * 31 + "xyz"),
    Launch(LaunchSource.CLOUDENDURE, LaunchType.CUTOVER, "i-0fedcba9876543210", JOB, MACHINE,
           launch_state="COMPLETED", launched_at="2026-10-14T06:31:55.123456789+14:00"),
    Launch(LaunchSource.EC2, None, "i-0fedcba9876543210", None, None, launched_at="2026-10-14T06:31:55.123456789Z"),
]


@pytest.mark.parametrize("attempt", [1, MAX_ATTEMPT])
@pytest.mark.parametrize("launch", ADVERSARIAL_LAUNCHES, ids=["plain-long", "plain-astral", "cloudendure", "ec2"])
def test_execution_name_adversarial_launch(launch, attempt):
    execution = execution_name(launch, attempt)

    assert len(execution) <= 80, execution
    assert NAME_CHARACTERS.fullmatch(execution), execution


def test_execution_name_longest():
    launch = Launch(LaunchSource.CLOUDENDURE, LaunchType.TEST, "i-0fedcba9876543210", JOB, MACHINE)

    assert len(execution_name(launch, MAX_ATTEMPT)) == 54


def test_execution_name_from_long_message_values():
    body = json.dumps({"instance_id": "i-0fedcba9876543210", "suite": "s" * 64, "wave": "\u2603" * 128,
                       "request_id": "r" * 128})
    launch = read_message(body)
    assert isinstance(launch, Launch), launch

    execution = execution_name(launch, MAX_ATTEMPT)

    assert len(execution) <= 80, execution
    assert NAME_CHARACTERS.fullmatch(execution), execution


@pytest.mark.parametrize("attempt", [0, -1, MAX_ATTEMPT + 1, True, 2.0, "2", None])
def test_invalid_attempt_raises(attempt):
    launch = read_launch("plain.raw.json")

    with pytest.raises(AttemptInvalid):
        execution_name(launch, attempt)
    with pytest.raises(AttemptInvalid):
        execution_input(launch, attempt)


# Execution input


@pytest.mark.parametrize("name", LAUNCH_SAMPLES)
def test_execution_input_canonical_json(name):
    text = execution_input(read_launch(name))
    document = json.loads(text)

    assert text == json.dumps(document, sort_keys=True, separators=(",", ":"))
    assert set(document) == {"attempt", "execution_name", "launch"}
    assert set(document["launch"]) == INPUT_KEYS - {"attempt"}
    assert document["attempt"] == 1
    assert document["execution_name"] == execution_name(read_launch(name))
    assert len(text.encode()) < 1024


def test_execution_input_mgn_sample():
    document = json.loads(execution_input(read_launch("mgn-cutover-launch-failed.raw.json"), 3))

    assert document["attempt"] == 3
    assert document["execution_name"].endswith("-a3")
    assert document["launch"] == {
        "instance_id": None,
        "job_id": "mgnjob-0d9c8b7a6f5e4d3c2",
        "launch_failed": True,
        "launch_key": "mgn|mgnjob-0d9c8b7a6f5e4d3c2|s-3f2e1d0c9b8a76543",
        "launch_state": "CUTOVER_LAUNCH_FAILED",
        "launch_type": "cutover",
        "launched_at": "2026-10-12T14:03:05Z",
        "request_id": None,
        "source": "mgn",
        "source_server_id": "s-3f2e1d0c9b8a76543",
        "suite": None,
        "wave": None,
    }


def test_execution_input_byte_identical_for_wrappings():
    raw = execution_input(read_launch("mgn-test-launch-succeeded.raw.json"))
    wrapped = execution_input(read_launch("mgn-test-launch-succeeded.sns-in-sqs.json"))

    assert raw.encode("utf-8") == wrapped.encode("utf-8")


def test_execution_input_is_ascii():
    text = execution_input(plain_launch(wave="Welle 3 (M\u00fcnchen) \U0001f680"))

    assert text.isascii()
    assert json.loads(text)["launch"]["wave"] == "Welle 3 (M\u00fcnchen) \U0001f680"
