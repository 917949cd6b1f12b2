"""A local stack shared by the workflow tests, with real instances started on demand."""

from __future__ import annotations

import socket
import threading

import pytest

from migration_validator_cli.local.instances import LocalInstance, launch_instance, register_instance
from migration_validator_cli.local.session import VerdictInbox
from migration_validator_cli.local.stack import LocalSettings, LocalStack
from migration_validator_cli.local.targets import free_loopback_address, generate_ssh_key

# Two seconds of boot grace keep the UNREACHABLE case short; reachable instances are unaffected.
TEST_SETTINGS = LocalSettings(stack_name="mv-test", parameter_overrides=(("BootGraceSeconds", "2"),))


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_ssh_key()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, key_pair):
    log_path = tmp_path_factory.mktemp("stack") / "functions.log"
    with open(log_path, "w") as log_sink, LocalStack(settings=TEST_SETTINGS, log_sink=log_sink) as local_stack:
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
