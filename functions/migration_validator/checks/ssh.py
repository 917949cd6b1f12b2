"""One verified, key-authenticated SSH connection per suite run (paramiko)."""

import io
import select
import socket
import time
from dataclasses import dataclass

import paramiko
from aws_lambda_powertools import Logger
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from migration_validator import verdicts
from migration_validator.checks.addresses import check_address
from migration_validator.errors import TargetNotReady
from migration_validator.tags import HOST_KEY as HOST_KEY_TAG
from migration_validator.targets import Target

logger = Logger(service="migration-validator", child=True)

_KEY_CLASSES = (
    (ed25519.Ed25519PrivateKey, paramiko.Ed25519Key),
    (ec.EllipticCurvePrivateKey, paramiko.ECDSAKey),
    (rsa.RSAPrivateKey, paramiko.RSAKey),
)


@dataclass(frozen=True)
class SshTimeouts:
    """Seconds allowed for each phase of opening the connection."""

    connect: float = 10.0  # TCP connect
    banner: float = 10.0  # from TCP accept to the server's SSH banner
    handshake: float = 10.0  # key exchange after the banner
    auth: float = 10.0  # public key authentication
    channel_open: float = 10.0  # opening the exec channel


class HostKeyRejected(Exception):
    """The server's host key is not one this run may trust; no command may run.

    ``reason`` is HOST_KEY_MISMATCH or HOST_KEY_UNKNOWN.
    """

    def __init__(self, reason: str, message: str, fingerprint: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.fingerprint = fingerprint


class PrivateKeyUnreadable(ValueError):
    """The SSH private key text cannot be used: not a key, encrypted, or of an unsupported type.

    The message never contains key material.
    """


@dataclass
class ExecOutput:
    """Output of one exec; ``deadline_reached`` means the channel was closed before the command ended."""

    stdout: bytes
    stderr: bytes
    exit_status: int | None
    deadline_reached: bool


def load_private_key(text: str) -> paramiko.PKey:
    """Parse an unencrypted Ed25519, ECDSA or RSA private key in OpenSSH or PEM (PKCS#1, SEC1, PKCS#8) form.

    Raises PrivateKeyUnreadable, whose message never contains key material.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    loaded = None
    for loader in (serialization.load_ssh_private_key, serialization.load_pem_private_key):
        try:
            loaded = loader(data, password=None)
            break
        except TypeError:
            raise PrivateKeyUnreadable("the SSH private key is encrypted; store it without a passphrase") from None
        except (ValueError, paramiko.SSHException):
            continue
        except Exception as error:  # cryptography raises UnsupportedAlgorithm and others for odd input
            raise PrivateKeyUnreadable(f"the SSH private key could not be read ({type(error).__name__})") from None
    if loaded is None:
        raise PrivateKeyUnreadable("the SSH private key is not an OpenSSH or PEM private key")

    for crypto_class, paramiko_class in _KEY_CLASSES:
        if isinstance(loaded, crypto_class):
            # Re-serialising to the OpenSSH format lets paramiko read PKCS#8 keys too.
            openssh = loaded.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
            )
            return paramiko_class.from_private_key(io.StringIO(openssh.decode("ascii")))
    raise PrivateKeyUnreadable(f"SSH private keys of type {type(loaded).__name__} are not supported; use Ed25519, ECDSA or RSA")


def private_key_fragments(text: str) -> tuple[str, ...]:
    """Return the pieces of a private key text that must never appear in output: the text and its body lines."""
    lines = [line.strip() for line in text.splitlines()]
    body = [line for line in lines if len(line) >= 16 and not line.startswith("-----")]
    return (text.strip(), *body) if text.strip() else ()


def expected_fingerprints(value: str | None) -> tuple[str, ...]:
    """Split the expected host key setting: one or more ``SHA256:...`` fingerprints separated by spaces.

    Several fingerprints let an operator list every host key of the source server.
    NOTE: paramiko 5.1 negotiates one host key type (Ed25519 first, then ECDSA, then RSA), so a
    setting that lists only the fingerprint of another type of the same server's keys is a mismatch.
    """
    if not value:
        return ()
    return tuple(part for part in value.split() if part)


class SshSession:
    """An authenticated connection; ``fingerprint`` is the server host key seen (OpenSSH SHA256 form)."""

    def __init__(self, transport: paramiko.Transport, target: Target, fingerprint: str, trusted_on_first_use: bool, timeouts: SshTimeouts) -> None:
        self._transport = transport
        self._target = target
        self._timeouts = timeouts
        self.fingerprint = fingerprint
        self.trusted_on_first_use = trusted_on_first_use

    def exec(self, command: str, stdin: bytes, deadline: float, *, max_stderr_bytes: int = 65536) -> ExecOutput:
        """Run ``command`` with ``stdin`` on one channel until it ends or ``time.monotonic()`` passes ``deadline``.

        At the deadline the channel is closed and the output received so far is returned.
        """
        channel = self._transport.open_session(timeout=self._timeouts.channel_open)
        stdout = bytearray()
        stderr = bytearray()
        deadline_reached = False
        try:
            channel.exec_command(command)
            # Bounded, in case the remote side never reads its input.
            channel.settimeout(max(0.1, deadline - time.monotonic()))
            channel.sendall(stdin)
            channel.shutdown_write()

            while True:
                while channel.recv_ready():
                    stdout += channel.recv(65536)
                while channel.recv_stderr_ready():
                    chunk = channel.recv_stderr(65536)
                    stderr += chunk[: max(0, max_stderr_bytes - len(stderr))]
                if channel.eof_received and not channel.recv_ready() and not channel.recv_stderr_ready():
                    break
                if (channel.closed or not self._transport.is_active()) and not channel.eof_received:
                    # The connection dropped mid-output: waiting for the deadline would only turn this into TIMEOUT.
                    raise paramiko.SSHException("the SSH connection closed before the command finished")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    deadline_reached = True
                    break
                select.select([channel], [], [], min(remaining, 1.0))

            exit_status = None
            if not deadline_reached and channel.status_event.wait(max(0.0, deadline - time.monotonic())):
                exit_status = channel.recv_exit_status()
        finally:
            channel.close()
        return ExecOutput(bytes(stdout), bytes(stderr), exit_status, deadline_reached)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "SshSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_session(
    target: Target,
    private_key: str,
    *,
    trust_on_first_use: bool = False,
    timeouts: SshTimeouts = SshTimeouts(),
) -> SshSession:
    """Connect to the target, verify its host key, then authenticate with exactly one key.

    Raises TargetNotReady for connection problems the caller may retry, HostKeyRejected
    when the host key is not trusted (before any authentication or command), and
    PrivateKeyUnreadable for an unreadable private key (before any traffic).
    """
    check_address(target.address)
    pkey = load_private_key(private_key)

    sock = _connect_tcp(target, timeouts.connect)
    transport = paramiko.Transport(sock)
    try:
        _negotiate(transport, target, timeouts)
        fingerprint = transport.get_remote_server_key().fingerprint
        trusted_on_first_use = _verify_host_key(target, fingerprint, trust_on_first_use)
        _authenticate(transport, target, pkey, timeouts)
    except BaseException:
        transport.close()
        raise
    return SshSession(transport, target, fingerprint, trusted_on_first_use, timeouts)


def _not_ready(target: Target, reason: str, detail: str) -> TargetNotReady:
    error = TargetNotReady(target.instance_id, target.address, reason, f"SSH port {target.ssh_port}: {detail}")
    logger.warning(
        "SSH connection failed",
        instance_id=target.instance_id,
        address=target.address,
        port=target.ssh_port,
        reason=reason,
        detail=detail,
    )
    return error


def _connect_tcp(target: Target, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((target.address, target.ssh_port), timeout=timeout)
    except ConnectionRefusedError:
        raise _not_ready(target, verdicts.CONNECTION_REFUSED, "nothing accepts connections on the SSH port") from None
    except TimeoutError:
        raise _not_ready(target, verdicts.TIMEOUT, f"TCP connect did not finish within {timeout:g} s") from None
    except OSError as error:
        raise _not_ready(target, verdicts.CONNECTION_FAILED, f"TCP connect failed: {error.strerror or error}") from None


def _negotiate(transport: paramiko.Transport, target: Target, timeouts: SshTimeouts) -> None:
    transport.banner_timeout = timeouts.banner
    transport.handshake_timeout = timeouts.handshake
    try:
        transport.start_client(timeout=timeouts.banner + timeouts.handshake)
    except (paramiko.SSHException, EOFError, OSError) as error:
        message = str(error)
        if "protocol banner" in message or "protocol version" in message:
            detail = f"the port accepted TCP but sent no SSH banner within {timeouts.banner:g} s ({message or type(error).__name__})"
            raise _not_ready(target, verdicts.NO_SSH_BANNER, detail) from None
        raise _not_ready(target, verdicts.CONNECTION_FAILED, f"SSH negotiation failed: {message or type(error).__name__}") from None

    # start_client returns without raising when its timeout passes mid-negotiation.
    if not (transport.is_active() and transport.initial_kex_done):
        detail = f"SSH key exchange did not finish within {timeouts.banner + timeouts.handshake:g} s"
        raise _not_ready(target, verdicts.TIMEOUT, detail)


def _verify_host_key(target: Target, fingerprint: str, trust_on_first_use: bool) -> bool:
    """Return True when the key is accepted on first use; raise HostKeyRejected when it is not trusted."""
    expected = expected_fingerprints(target.expected_host_key)
    # `migration-validator check` names a host, not an instance, and uses its address as the id.
    where = f"{target.address}:{target.ssh_port}"
    if target.instance_id != target.address:
        where = f"instance {target.instance_id} at {where}"

    if expected:
        if fingerprint in expected:
            return False
        message = (
            f"host key of {where} is {fingerprint}, but {' or '.join(expected)} is expected (the {HOST_KEY_TAG} tag, "
            "or --host-key and --known-hosts of the check command); the server is not the migrated one or the "
            "expected key is wrong. No check was run."
        )
        logger.warning("Host key mismatch", instance_id=target.instance_id, seen=fingerprint, expected=list(expected))
        raise HostKeyRejected(verdicts.HOST_KEY_MISMATCH, message, fingerprint)

    if trust_on_first_use:
        logger.info("Host key trusted on first use", instance_id=target.instance_id, fingerprint=fingerprint)
        return True

    message = (
        f"host key of {where} is {fingerprint}, and no expected host key is set. Set the {HOST_KEY_TAG} tag "
        "to the source server's host key fingerprint or enable trust on first use. No check was run."
    )
    logger.warning("Host key unknown", instance_id=target.instance_id, seen=fingerprint)
    raise HostKeyRejected(verdicts.HOST_KEY_UNKNOWN, message, fingerprint)


def _authenticate(transport: paramiko.Transport, target: Target, pkey: paramiko.PKey, timeouts: SshTimeouts) -> None:
    transport.auth_timeout = timeouts.auth
    started = time.monotonic()
    try:
        transport.auth_publickey(target.ssh_user, pkey)
    except paramiko.AuthenticationException as error:
        if time.monotonic() - started >= timeouts.auth:
            detail = f"authentication as {target.ssh_user} did not finish within {timeouts.auth:g} s"
            raise _not_ready(target, verdicts.TIMEOUT, detail) from None
        detail = f"the server rejected the key for user {target.ssh_user} ({type(error).__name__})"
        raise _not_ready(target, verdicts.AUTH_FAILED, detail) from None
    except (paramiko.SSHException, EOFError, OSError) as error:
        raise _not_ready(target, verdicts.CONNECTION_FAILED, f"connection lost during authentication: {error}") from None
    if not transport.is_authenticated():
        raise _not_ready(target, verdicts.AUTH_FAILED, f"the server did not accept the key for user {target.ssh_user}")
