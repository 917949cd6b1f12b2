"""RunSmokeTests with an unusable SSH key: SshKeyUnavailable naming the secret, before any connection."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from moto import mock_aws

from migration_validator.aws import client
from migration_validator.errors import SshKeyUnavailable

SUITES_DIR = Path(__file__).resolve().parents[2] / "test_suites"


@dataclass
class FakeContext:
    """The attributes of the Lambda context that the handler and Powertools read."""

    function_name: str = "RunSmokeTests"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:RunSmokeTests"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 180_000


def encrypted_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    encryption = serialization.BestAvailableEncryption(b"passphrase")
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption).decode()


def truncated_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
    lines = text.splitlines()
    return "\n".join([lines[0], lines[1][:20], lines[-1]])


@pytest.mark.parametrize(("key_text", "detail"), [(encrypted_key(), "encrypted"), (truncated_key(), "not an OpenSSH or PEM")])
def test_unusable_key_is_ssh_key_unavailable(monkeypatch, key_text, detail):
    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args}")

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("SUITES_DIR", str(SUITES_DIR))
    monkeypatch.setenv("BOOT_GRACE_SECONDS", "900")
    with mock_aws():
        secret_arn = client("secretsmanager").create_secret(Name="validator/ssh-key", SecretString=key_text)["ARN"]
        monkeypatch.setenv("SSH_KEY_SECRET_ARN", secret_arn)
        monkeypatch.setattr(socket, "create_connection", refuse)
        ec2 = client("ec2")
        image_id = ec2.describe_images()["Images"][0]["ImageId"]
        instance_id = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        from handlers.run_smoke_tests import handler

        event = {
            "target": {"instance_id": instance_id, "ssh_user": "ec2-user", "suite": "linux-baseline"},
            "execution_name": "unit-key-test",
            "execution_started_at": "2026-01-01T00:00:00Z",
        }
        with pytest.raises(SshKeyUnavailable) as raised:
            handler(event, FakeContext())

    assert raised.value.secret_id == secret_arn
    assert detail in str(raised.value)
    assert key_text.splitlines()[1][:20] not in str(raised.value)
