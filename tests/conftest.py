"""Shared fixtures: a client key pair and a real Linux target (OpenSSH sshd and an HTTP server) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from migration_validator.targets import Target
from migration_validator_cli.local.instances import WEB_ROUTES
from migration_validator_cli.local.stack import use_local_aws_environment
from migration_validator_cli.local.targets import (
    HttpTarget,
    SshdTarget,
    SshKeyPair,
    free_loopback_address,
    generate_ssh_key,
    start_http_server,
    start_sshd,
)

# Every test process gets a region, dummy credentials and no instance metadata lookups, so no
# boto3 client can reach a real account or 169.254.169.254, whichever test runs first.
use_local_aws_environment()

LOCAL_INSTANCE_ID = "i-0000000000000e2e0"


@dataclass
class LinuxHost:
    """A running local target; ``target`` expects its host key and logs in as the current user."""

    sshd: SshdTarget
    http: HttpTarget
    target: Target

    @property
    def address(self) -> str:
        return self.target.address


@pytest.fixture(scope="session")
def ssh_key() -> SshKeyPair:
    """An Ed25519 client key pair; the public half is authorized on every local target."""
    return generate_ssh_key()


@pytest.fixture(scope="module")
def linux_host(tmp_path_factory, ssh_key) -> Iterator[LinuxHost]:
    """sshd on port 22 and an HTTP server on port 80 of a fresh loopback address, for one test module."""
    address = free_loopback_address()
    workdir = tmp_path_factory.mktemp("linux-host")
    with start_sshd(address, 22, ssh_key.public_key, workdir) as sshd, start_http_server(address, 80, WEB_ROUTES) as http:
        target = Target(
            instance_id=LOCAL_INSTANCE_ID,
            address=address,
            ssh_user=sshd.user,
            ssh_port=sshd.port,
            expected_host_key=sshd.host_key_fingerprint,
        )
        yield LinuxHost(sshd=sshd, http=http, target=target)


@pytest.fixture(scope="module")
def linux_target(linux_host) -> Target:
    """The Target of ``linux_host``: its address, user and expected host key fingerprint."""
    return linux_host.target
