"""A local stack shared by the workflow tests, with real instances started on demand."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from migration_validator_cli import local_command
from migration_validator_cli.local.instances import LocalInstance, launch_instance, register_instance
from migration_validator_cli.local.session import VerdictInbox
from migration_validator_cli.local.stack import LocalSettings, LocalStack
from migration_validator_cli.local.targets import free_loopback_address, generate_ssh_key
from migration_validator_cli.paths import SUITES_DIR

TEST_ONLY_SUITES = Path(__file__).parent / "suites"

# Two seconds of boot grace keep the UNREACHABLE case short; reachable instances are unaffected.
# The AWS gateway records every call the functions make, for the least-privilege tests.
TEST_SETTINGS = LocalSettings(stack_name="mv-test", parameter_overrides=(("BootGraceSeconds", "2"),), aws_gateway=True)


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_ssh_key()


@pytest.fixture(scope="session")
def suites_dir(tmp_path_factory) -> Path:
    """The shipped suites plus the test-only suites in tests/workflow/suites."""
    directory = tmp_path_factory.mktemp("suites")
    for path in [*SUITES_DIR.iterdir(), *TEST_ONLY_SUITES.glob("*.yaml")]:
        if path.is_file():
            shutil.copy(path, directory)
    return directory


@pytest.fixture(scope="session")
def stack(tmp_path_factory, key_pair, suites_dir):
    log_path = tmp_path_factory.mktemp("stack") / "functions.log"
    settings = replace(TEST_SETTINGS, suites_dir=suites_dir)
    with open(log_path, "w") as log_sink, LocalStack(settings=settings, log_sink=log_sink) as local_stack:
        local_stack.set_ssh_key(key_pair[0])
        local_stack.function_log = log_path
        yield local_stack


@pytest.fixture(scope="session")
def inbox(stack) -> VerdictInbox:
    return VerdictInbox(stack)


@pytest.fixture
def launch(stack, key_pair, tmp_path):
    """Start a real instance (sshd, and an HTTP server unless http=False) registered in EC2."""
    started: list[LocalInstance] = []

    def start(**options) -> LocalInstance:
        instance = launch_instance(stack.client("ec2"), tmp_path / f"instance-{len(started)}", key_pair[1], **options)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


@pytest.fixture
def silent_instance(stack):
    """An instance whose port 22 accepts TCP connections and never sends an SSH banner."""
    address = free_loopback_address()
    listener = socket.create_server((address, 22))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield register_instance(stack.client("ec2"), address, {"Name": "no-ssh-banner"})
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def local_state_file(stack, tmp_path, monkeypatch):
    """Point the command-line tool at the session's stack, as `migration-validator local start` would."""
    state_file = tmp_path / "stack.json"
    state = {"pid": os.getpid(), "endpoint_url": stack.moto_url, "lambda_endpoint_url": stack.endpoint.url, "outputs": stack.outputs}
    state_file.write_text(json.dumps(state))
    monkeypatch.setattr(local_command, "STATE_FILE", state_file)
    return state_file
