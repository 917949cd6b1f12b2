"""The ``http`` check: one GET request to the instance's own address, redirects not followed."""

import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from migration_validator import verdicts
from migration_validator.checks.addresses import check_address
from migration_validator.checks.base import RunContext, check_result, elapsed_ms, single_check_type
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

MAX_BODY_BYTES = 1024 * 1024  # body read for matching; the rest is not downloaded
USER_AGENT = "migration-validator"


@dataclass
class _Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    body_truncated: bool  # the body was longer than MAX_BODY_BYTES
    body_complete: bool  # the body ended, or passed MAX_BODY_BYTES, before the deadline


class _DeadlineGuard:
    """Shuts the connection's socket down at the deadline, so no read can outlast the check's timeout."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "_DeadlineGuard":
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


class _HttpsConnection(http.client.HTTPSConnection):
    """HTTPS to the instance address, with the certificate checked against ``server_name``."""

    def __init__(self, address: str, port: int, *, timeout: float, context: ssl.SSLContext, server_name: str) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


@single_check_type("http")
def run_http_check(spec: CheckSpec, context: RunContext) -> CheckResult:
    address = context.target.address
    check_address(address)
    params = spec.params
    scheme = params.get("scheme", "http")
    port = params.get("port", 443 if scheme == "https" else 80)
    path = params.get("path", "/")
    url = f"{scheme}://{_host_in_url(address)}:{port}{path}"
    timeout = spec.timeout_seconds

    started = time.monotonic()
    connection = _open_connection(scheme, address, port, timeout, params.get("tls", {}))
    guard = _DeadlineGuard(connection, timeout)
    response = None
    try:
        with guard:
            response = _get(connection, path, params.get("headers", {}), started + timeout)
    except Exception as error:  # the guard's shutdown surfaces as several types, so _classify_error sorts them
        reason, message = _classify_error(error, guard.fired, url, timeout)
        return check_result(
            spec, passed=False, reason=reason, message=message,
            duration_ms=elapsed_ms(started, time.monotonic()), redactor=context.redactor,
        )
    finally:
        connection.close()
    duration_ms = elapsed_ms(started, time.monotonic())

    if guard.fired or not response.body_complete:
        message = f"GET {url}: status {response.status} received, but the body did not finish within {timeout:g} s"
        return check_result(spec, passed=False, reason=verdicts.TIMEOUT, message=message, duration_ms=duration_ms, redactor=context.redactor)

    reason, message = _judge(response, params.get("expect", {}), url)
    cap = context.settings.output_cap_bytes
    return check_result(
        spec,
        passed=reason == verdicts.OK,
        reason=reason,
        message=message,
        duration_ms=duration_ms,
        redactor=context.redactor,
        stdout=response.body[:cap].decode("utf-8", errors="replace"),
        capped=len(response.body) > cap,
    )


def _host_in_url(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _open_connection(scheme: str, address: str, port: int, timeout: float, tls: Mapping) -> http.client.HTTPConnection:
    if scheme == "http":
        return http.client.HTTPConnection(address, port, timeout=timeout)
    tls_context = ssl.create_default_context()
    if tls.get("insecure", False):
        tls_context.check_hostname = False
        tls_context.verify_mode = ssl.CERT_NONE
    server_name = tls.get("server_name", address)
    return _HttpsConnection(address, port, timeout=timeout, context=tls_context, server_name=server_name)


def _get(connection: http.client.HTTPConnection, path: str, extra_headers: Mapping[str, str], deadline: float) -> _Response:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close", **extra_headers}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()

    body = bytearray()
    ended = False
    while len(body) <= MAX_BODY_BYTES and time.monotonic() < deadline:
        chunk = response.read1(min(65536, MAX_BODY_BYTES + 1 - len(body)))
        if not chunk:
            ended = True
            break
        body += chunk
    truncated = len(body) > MAX_BODY_BYTES
    return _Response(response.status, response.headers, bytes(body[:MAX_BODY_BYTES]), truncated, ended or truncated)


def _classify_error(error: Exception, deadline_passed: bool, url: str, timeout: float) -> tuple[str, str]:
    if deadline_passed or isinstance(error, TimeoutError):
        return verdicts.TIMEOUT, f"GET {url}: no complete response within {timeout:g} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return verdicts.TLS_INVALID, f"GET {url}: the server certificate is not valid: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return verdicts.TLS_INVALID, f"GET {url}: TLS handshake failed: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return verdicts.CONNECTION_REFUSED, f"GET {url}: connection refused"
    if isinstance(error, (OSError, http.client.HTTPException)):
        return verdicts.CONNECTION_FAILED, f"GET {url}: {type(error).__name__}: {error}"
    raise error


def _judge(response: _Response, expect: Mapping, url: str) -> tuple[str, str]:
    """Return (reason, message) for the first unmet expectation, or (OK, ...) when all are met."""
    expected_status = expect.get("status", 200)
    if response.status != expected_status:
        return verdicts.HTTP_STATUS, f"GET {url}: status {response.status}, expected {expected_status}"

    for name, needle in expect.get("headers", {}).items():
        value = response.headers.get(name)
        if value is None:
            return verdicts.HEADER_MISMATCH, f"GET {url}: header {name} is missing, expected it to contain {needle!r}"
        if needle not in value:
            return verdicts.HEADER_MISMATCH, f"GET {url}: header {name} is {value!r}, expected it to contain {needle!r}"

    body = response.body.decode("utf-8", errors="replace")
    # A body cut at MAX_BODY_BYTES may hold the expected text past the cut.
    mismatch_reason = verdicts.OUTPUT_CAPPED if response.body_truncated else verdicts.BODY_MISMATCH
    where = f" in its first {MAX_BODY_BYTES} bytes" if response.body_truncated else ""
    needle = expect.get("body_contains")
    if needle is not None and needle not in body:
        return mismatch_reason, f"GET {url}: body does not contain {needle!r}{where}"
    pattern = expect.get("body_regex")
    if pattern is not None and not re.search(pattern, body, re.MULTILINE):
        return mismatch_reason, f"GET {url}: body does not match the regex {pattern!r}{where}"

    return verdicts.OK, f"GET {url}: status {response.status}"
