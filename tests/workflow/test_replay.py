"""`migration-validator local replay` against the session's local stack."""

from __future__ import annotations

import json

import pytest

from launch_cases import BAD_MESSAGES, LAUNCH_MESSAGES, ec2_running_event, sample
from migration_validator_cli.main import main

pytestmark = pytest.mark.timeout(180)


def test_replay_prints_each_outcome(stack, launch, local_state_file, tmp_path, capsys):
    instance = launch(suite="web-app")
    files = {
        "ignored": sample(LAUNCH_MESSAGES, "ec2-stopped.raw.json"),
        "rejected": sample(BAD_MESSAGES, "broken-json.json"),
        "started": ec2_running_event(instance.instance_id),
        "duplicate": ec2_running_event(instance.instance_id),
    }
    paths = []
    for name, body in files.items():
        path = tmp_path / f"{name}.json"
        path.write_text(body)
        paths.append(str(path))

    status = main(["local", "replay", *paths, "--timeout", "120"])

    lines = {json.loads(line)["file"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    ignored, rejected, started, duplicate = (lines[path] for path in paths)
    assert status == 0
    assert ignored["outcome"] == "ignored"
    assert "stopped" in ignored["reason"]
    assert rejected["outcome"] == "rejected"
    assert "is not valid JSON" in rejected["reason"]
    assert started["outcome"] == "started"
    assert started["verdict"] == "PASSED"
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["execution_name"] == started["execution_name"]


def test_replay_reports_unreadable_file(stack, local_state_file, tmp_path, capsys):
    path = tmp_path / "latin-1.json"
    path.write_bytes(b'{"instance_id": "i-0a1b2c3d", "wave": "caf\xe9"}')

    status = main(["local", "replay", str(path), "--timeout", "30"])

    line = json.loads(capsys.readouterr().out)
    assert status == 1
    assert line["outcome"] == "rejected"
    assert "cannot read the file" in line["reason"]
