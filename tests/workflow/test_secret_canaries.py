"""Secret canaries: the SSH private key and a secret tag value never leave a run unredacted.

The canary key is the session's SSH key, generated for this run alone. The canary value is a
fresh string in the instance tag migration-validator:canary-value, which the canary suites
list under ``secrets``. Each instance also holds a file with both canaries, which the suites
print. After launches that end PASSED, FAILED, UNREACHABLE and ERROR, neither canary may
appear in the functions' log, any ResultsTable item, any SNS notification, any execution
history event or the output of `migration-validator executions`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from migration_validator_cli.history import execution_history
from migration_validator_cli.local.instances import launch_instance, register_instance
from migration_validator_cli.local.session import plain_launch_message, validate_via_topic
from migration_validator_cli.local.targets import generate_ssh_key, public_key_fingerprint
from migration_validator_cli.main import main
from migration_validator_cli.chaos import scan_records

pytestmark = pytest.mark.timeout(240)

CANARY_DIR = Path("/tmp/migration-validator-canary")
VALUE_TAG = "migration-validator:canary-value"
# The instance metadata address: the engine rejects it before connecting, so the launch ends in ERROR.
METADATA_ADDRESS = "169.254.169.254"


def key_fragments(private_key: str) -> list[str]:
    """The whole key and each body line: any of them in a sink is a leak."""
    lines = [line.strip() for line in private_key.strip().splitlines()]
    return [private_key.strip(), *[line for line in lines if len(line) >= 16 and not line.startswith("-----")]]


@pytest.fixture(scope="module")
def canary_value() -> str:
    return f"canary-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def runs(stack, inbox, key_pair, canary_value, tmp_path_factory) -> dict[str, object]:
    """Validate four instances, one per verdict; return each Validation by verdict."""
    workdir = tmp_path_factory.mktemp("canaries")
    ec2 = stack.client("ec2")
    tags = {VALUE_TAG: canary_value}
    stranger = generate_ssh_key()
    instances = {
        "PASSED": launch_instance(ec2, workdir / "passed", key_pair[1], tags=tags),
        "FAILED": launch_instance(ec2, workdir / "failed", key_pair[1], tags=tags),
        # Its sshd accepts another key only, so the canary key is offered and rejected.
        "UNREACHABLE": launch_instance(ec2, workdir / "unreachable", stranger.public_key, tags=tags),
    }
    CANARY_DIR.mkdir(exist_ok=True)
    for instance in instances.values():
        (CANARY_DIR / instance.address).write_text(f"{key_pair[0].strip()}\nvalue={canary_value}\n")
    error_instance = register_instance(ec2, METADATA_ADDRESS, {**tags, "migration-validator:ssh-user": "root"})

    suites = {"PASSED": "canary", "FAILED": "canary-failing", "UNREACHABLE": "canary"}
    try:
        validations = {verdict: validate_via_topic(stack, inbox, plain_launch_message(instance.instance_id, suite=suites[verdict])) for verdict, instance in instances.items()}
        validations["ERROR"] = validate_via_topic(stack, inbox, plain_launch_message(error_instance, suite="canary"))
        validations["sshd_logs"] = {verdict: instance.sshd.log_path.read_text() for verdict, instance in instances.items()}
    finally:
        for instance in instances.values():
            instance.stop()
            (CANARY_DIR / instance.address).unlink(missing_ok=True)
    return validations


def sinks(stack, inbox, runs, capsys) -> dict[str, str]:
    """Everything a canary must not reach, as text, by sink."""
    stepfunctions = stack.client("stepfunctions")
    state_machine_arn = stack.outputs["ValidationStateMachineArn"]
    histories = [execution_history(stepfunctions, runs[verdict].execution_arn) for verdict in ("PASSED", "FAILED", "UNREACHABLE", "ERROR")]

    capsys.readouterr()
    for verdict in ("PASSED", "FAILED", "UNREACHABLE", "ERROR"):
        main(["executions", "--endpoint-url", stack.moto_url, "--state-machine-arn", state_machine_arn, "show", runs[verdict].execution["name"]])
    main(["executions", "--endpoint-url", stack.moto_url, "--state-machine-arn", state_machine_arn, "list"])
    command_output = capsys.readouterr()

    return {
        "functions log": Path(stack.function_log).read_text(),
        "ResultsTable": json.dumps(scan_records(stack), default=str),
        "VerdictTopic": json.dumps(inbox.drain()),
        "execution history": json.dumps(histories, default=str),
        "command output": command_output.out + command_output.err,
    }


@pytest.mark.parametrize("verdict", ["PASSED", "FAILED", "UNREACHABLE", "ERROR"])
def test_canary_launch_reaches_verdict(runs, verdict):
    assert runs[verdict].record["verdict"] == verdict


@pytest.mark.parametrize("verdict", ["PASSED", "FAILED"])
def test_canary_key_authenticated(runs, key_pair, verdict):
    fingerprint = public_key_fingerprint(key_pair[1])
    accepted = [line for line in runs["sshd_logs"][verdict].splitlines() if "Accepted publickey" in line]
    assert any(fingerprint in line for line in accepted)


def test_canary_key_rejected_when_unauthorized(runs):
    """sshd logs no rejected key at its default log level; the reason shows the key was offered and refused."""
    assert runs["UNREACHABLE"].record["reason"] == "AUTH_FAILED"


@pytest.mark.parametrize("verdict", ["PASSED", "FAILED"])
def test_canaries_reached_check_output(runs, verdict):
    """The suite printed both canaries; the engine stored [REDACTED] in their place."""
    stdout = runs[verdict].record["checks"][0]["stdout"]
    between = stdout.split("canary-begin", 1)[1].split("canary-end", 1)[0]
    assert "[REDACTED]" in between
    assert "value=" in between


@pytest.mark.parametrize("sink", ["functions log", "ResultsTable", "VerdictTopic", "execution history", "command output"])
def test_canary_key_in_no_sink(stack, inbox, runs, key_pair, capsys, sink):
    text = sinks(stack, inbox, runs, capsys)[sink]
    leaked = [fragment[:24] for fragment in key_fragments(key_pair[0]) if fragment in text]
    assert leaked == [], f"SSH private key fragments found in the {sink}"


@pytest.mark.parametrize(
    "sink",
    [
        "functions log",
        "ResultsTable",
        "VerdictTopic",
        "execution history",
        "command output",
    ],
)
def test_canary_value_in_no_sink(stack, inbox, runs, canary_value, capsys, sink):
    text = sinks(stack, inbox, runs, capsys)[sink]
    assert canary_value not in text, f"the secret tag value was found in the {sink}"
