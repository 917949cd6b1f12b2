"""Helpers for the end-to-end tests: suites written to disk beside the real schema, as the engine's callers load them."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from migration_validator.suites import Suite, load_suite

REPO_ROOT = Path(__file__).resolve().parents[2]
SUITES_DIR = REPO_ROOT / "test_suites"


def make_suite(tmp_path: Path, *checks: dict, name: str = "under-test") -> Suite:
    """Write ``checks`` as a suite file next to the real schema and load it, as the engine's callers do."""
    directory = tmp_path / "suites"
    directory.mkdir(exist_ok=True)
    shutil.copy(SUITES_DIR / "suite.schema.json", directory)
    document = {"description": "written by a test", "checks": list(checks)}
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return load_suite(name, directory)


def command(check_id: str, text: str, **fields) -> dict:
    return {"id": check_id, "type": "command", "command": text, "timeout_seconds": 5, **fields}


def result_of(run, check_id: str):
    return next(check for check in run.checks if check.check_id == check_id)


def self_signed_certificate(directory: Path, address: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "migration-validator test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@contextlib.contextmanager
def trickling_listener(address: str, first: bytes) -> Iterator[int]:
    """Serve one connection on ``address``: read the request, send ``first``, then one byte every 0.1 s for up to 20 s.

    Yields the port. The bytes never end the response, so only the client's deadline ends it.
    """
    server = socket.create_server((address, 0))
    stopping = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(first)
            for _ in range(200):
                if stopping.wait(0.1):
                    break
                try:
                    connection.sendall(b"x")
                except OSError:
                    break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stopping.set()
        server.close()
        thread.join(timeout=5)
