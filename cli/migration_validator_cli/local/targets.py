"""Real servers on a loopback address that stand in for a migrated Linux instance.

``start_sshd`` runs the system's OpenSSH server with a generated configuration and host
key, and ``start_http_server`` serves fixed pages. Each target gets its own loopback
address (any 127.x.y.z reaches this machine on Linux), so the standard ports 22 and 80
can be used by several targets at once. Binding them needs root, as in CI here.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import ipaddress
import logging
import os
import pwd
import random
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

log = logging.getLogger(__name__)

SSHD = "/usr/sbin/sshd"
SSHD_PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without its privilege separation directory
_RESERVED_LOOPBACK = ipaddress.ip_network("127.0.0.0/24")  # 127.0.0.1 and its neighbours, used by other services


class SshKeyPair(NamedTuple):
    private_key: str  # OpenSSH private key text, unencrypted
    public_key: str  # authorized_keys line


def generate_ssh_key(comment: str = "migration-validator-local") -> SshKeyPair:
    """Generate an Ed25519 key pair in OpenSSH formats."""
    key = ed25519.Ed25519PrivateKey.generate()
    private_text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode("ascii")
    public_text = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")
    return SshKeyPair(private_text, f"{public_text} {comment}")


def public_key_fingerprint(public_key_line: str) -> str:
    """Return the OpenSSH SHA256 fingerprint ("SHA256:<base64 without padding>") of a public key line."""
    blob = base64.b64decode(public_key_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def free_loopback_address(network: str = "127.0.0.0/8", ports: tuple[int, ...] = (22, 80)) -> str:
    """Return a random loopback address in ``network``, outside 127.0.0.0/24, on which ``ports`` are free."""
    candidates = ipaddress.ip_network(network)
    for _ in range(200):
        address = candidates[random.randrange(1, candidates.num_addresses - 1)]
        if address in _RESERVED_LOOPBACK or not address.is_loopback:
            continue
        if all(_port_is_free(str(address), port) for port in ports):
            return str(address)
    if os.geteuid() != 0 and any(port < 1024 for port in ports):
        raise PermissionError(f"binding ports {ports} on loopback needs root: run the demo and the tests as root")
    raise RuntimeError(f"no free loopback address found in {network} for ports {ports}")


def _port_is_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


@dataclass
class SshdTarget:
    """A running OpenSSH server; ``user`` is the account that may log in with the authorized key."""

    address: str
    port: int
    user: str
    host_key_fingerprint: str
    host_key_path: Path
    workdir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "sshd.log"

    def stop(self) -> None:
        """Stop the listening sshd; sessions already open end when their client disconnects."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> SshdTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sshd(
    address: str,
    port: int,
    authorized_public_key: str,
    workdir: Path,
    *,
    host_key_path: Path | None = None,
    environment: dict[str, str] | None = None,
    startup_timeout: float = 10.0,
) -> SshdTarget:
    """Start ``/usr/sbin/sshd`` listening only on ``address:port``, accepting only ``authorized_public_key``.

    The host key is ``host_key_path`` if given (an Ed25519 key is generated there if the
    file is missing), else a new key in ``workdir``. ``environment`` is set in every
    session (sshd's SetEnv, which overrides PATH and HOME), for example to put stand-in
    commands first on PATH. Returns once sshd reports it listens.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    SSHD_PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)

    host_key_path = Path(host_key_path).resolve() if host_key_path else workdir / "ssh_host_ed25519_key"
    if not host_key_path.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "migration-validator-local-host", "-f", str(host_key_path)],
            check=True,
            capture_output=True,
        )
    host_public_key = Path(f"{host_key_path}.pub").read_text(encoding="ascii")

    authorized_keys = workdir / "authorized_keys"
    authorized_keys.write_text(authorized_public_key.strip() + "\n", encoding="ascii")
    config = workdir / "sshd_config"
    config_text = _sshd_config(address, port, host_key_path, authorized_keys, workdir / "sshd.pid")
    if environment:
        # sshd keeps only the first SetEnv line, so every variable goes on one.
        config_text += "SetEnv " + " ".join(f'"{name}={value}"' for name, value in environment.items()) + "\n"
    config.write_text(config_text, encoding="ascii")

    log_path = workdir / "sshd.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    target = SshdTarget(
        address=address,
        port=port,
        user=pwd.getpwuid(os.getuid()).pw_name,
        host_key_fingerprint=public_key_fingerprint(host_public_key),
        host_key_path=host_key_path,
        workdir=workdir,
        process=process,
    )
    _wait_for_sshd(target, startup_timeout)
    log.info("sshd listening on %s port %d (host key %s)", address, port, target.host_key_fingerprint)
    return target


def _sshd_config(address: str, port: int, host_key: Path, authorized_keys: Path, pid_file: Path) -> str:
    listen = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return "\n".join(
        [
            f"ListenAddress {listen}",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized_keys}",
            f"PidFile {pid_file}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PrintMotd no",
            "UseDNS no",
            "",
        ]
    )


def _wait_for_sshd(target: SshdTarget, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            raise RuntimeError(
                f"sshd on {target.address}:{target.port} exited with status {target.process.returncode}: "
                f"{target.log_path.read_text(errors='replace').strip()}"
            )
        if "Server listening on" in target.log_path.read_text(errors="replace"):
            return
        time.sleep(0.02)
    target.stop()
    raise RuntimeError(f"sshd on {target.address}:{target.port} did not start listening within {timeout:g} s; see {target.log_path}")


@dataclass
class HttpTarget:
    """A running HTTP server that serves fixed routes."""

    address: str
    port: int
    server: http.server.ThreadingHTTPServer = field(repr=False)
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> HttpTarget:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_http_server(address: str, port: int, routes: dict[str, tuple[int, str]]) -> HttpTarget:
    """Serve ``routes`` (path to status and body) on ``address:port`` in a thread; other paths get 404.

    Port 0 picks a free port, which ``HttpTarget.port`` then holds.
    """
    handler = _route_handler(dict(routes))
    server_class = _Ipv6HttpServer if ":" in address else http.server.ThreadingHTTPServer
    server = server_class((address, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"http-{address}:{port}", daemon=True)
    thread.start()
    return HttpTarget(address=address, port=server.server_address[1], server=server, thread=thread)


class _Ipv6HttpServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _route_handler(routes: dict[str, tuple[int, str]]) -> type[http.server.BaseHTTPRequestHandler]:
    class RouteHandler(http.server.BaseHTTPRequestHandler):
        server_version = "migration-validator-local"

        def do_GET(self) -> None:
            status, body = routes.get(self.path.split("?", 1)[0], (404, "not found"))
            payload = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if body.lstrip().startswith("<") else "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - name fixed by the base class
            log.debug("%s %s", self.address_string(), format % args)

    return RouteHandler
