"""The ``http`` check: requests to the instance's own address, following redirects only when asked and only on the instance."""

import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.addresses import check_address
from migration_validator.checks.base import RunContext, check_result, elapsed_ms, not_run_result, single_check_type
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

MAX_BODY_BYTES = 1024 * 1024  # body read for matching; the rest is not downloaded
USER_AGENT = "migration-validator"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class _Response:
    url: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    body_truncated: bool  # the body was longer than MAX_BODY_BYTES
    body_complete: bool  # the body ended, or passed MAX_BODY_BYTES, before the deadline


@dataclass
class _Request:
    """Target of the next request; the connection always goes to the instance address."""

    scheme: str
    port: int
    path: str
    chain: list[str] = field(default_factory=list)  # URLs requested so far


class _DeadlineGuard:
    """Shuts the connection's socket down at the deadline, so no read can outlast the check's timeout."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._connection = connection
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
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


class _RedirectRejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@single_check_type("http")
def run_http_check(spec: CheckSpec, context: RunContext) -> CheckResult:
    address = context.target.address
    check_address(address)
    params = spec.params
    scheme = params.get("scheme", "http")
    tls = params.get("tls", {})
    request = _Request(scheme, int(params.get("port", 443 if scheme == "https" else 80)), params.get("path", "/"))
    timeout = spec.timeout_seconds
    started = time.monotonic()
    deadline = started + timeout

    try:
        tls_context = _tls_context(spec, tls)
    except (OSError, ssl.SSLError) as error:
        message = f"CA bundle {tls.get('ca_bundle')!r} cannot be read: {error}"
        return not_run_result(spec, verdicts.TLS_INVALID, message, context.redactor)

    max_redirects = int(params.get("follow_redirects", 0))
    while True:
        url = _url(request.scheme, address, request.port, request.path)
        request.chain.append(url)
        try:
            response = _send(spec, address, request, tls_context, tls, deadline)
        except Exception as error:  # the guard's shutdown surfaces as several types, so _classify_error sorts them
            reason, message = _classify_error(error, time.monotonic() >= deadline, f"{_method(spec)} {url}", timeout)
            return _result(spec, context, started, reason, message, request, tls)

        if response.status in REDIRECT_STATUSES and max_redirects > 0:
            if len(request.chain) > max_redirects:
                message = f"{_method(spec)} {request.chain[0]}: more than {max_redirects} redirects ({' -> '.join(request.chain)} -> ...)"
                return _result(spec, context, started, verdicts.TOO_MANY_REDIRECTS, message, request, tls)
            try:
                _follow(request, response, address, params, tls)
            except _RedirectRejected as rejected:
                return _result(spec, context, started, rejected.reason, rejected.message, request, tls)
            continue
        break

    if not response.body_complete:
        message = f"{_method(spec)} {url}: status {response.status} received, but the body did not finish within {timeout:g} s"
        return _result(spec, context, started, verdicts.TIMEOUT, message, request, tls)

    reason, message = _judge(response, params.get("expect", {}), f"{_method(spec)} {url}")
    cap = context.settings.output_cap_bytes
    return _result(
        spec, context, started, reason, message, request, tls,
        body=response.body[:cap].decode("utf-8", errors="replace"), capped=len(response.body) > cap,
    )


def _method(spec: CheckSpec) -> str:
    return spec.params.get("method", "GET")


def _result(
    spec: CheckSpec, context: RunContext, started: float, reason: str, message: str, request: _Request, tls: Mapping,
    *, body: str = "", capped: bool = False,
) -> CheckResult:
    details: dict = {"url": request.chain[-1] if request.chain else "", "redirects": max(0, len(request.chain) - 1)}
    if request.scheme == "https" or spec.params.get("scheme") == "https":
        details["tls_verified"] = not tls.get("insecure", False)
        if tls.get("insecure", False):
            message += "; TLS certificate not verified (tls.insecure: true)"
    return check_result(
        spec, passed=reason == verdicts.OK, reason=reason, message=message,
        duration_ms=elapsed_ms(started, time.monotonic()), redactor=context.redactor,
        stdout=body, capped=capped, details=details,
    )


def _url(scheme: str, address: str, port: int, path: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}{path}"


def _tls_context(spec: CheckSpec, tls: Mapping) -> ssl.SSLContext:
    bundle = tls.get("ca_bundle")
    cafile = str(Path(spec.source).parent / bundle) if bundle and spec.source else bundle
    context = ssl.create_default_context(cafile=cafile)
    if tls.get("insecure", False):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _send(spec: CheckSpec, address: str, request: _Request, tls_context: ssl.SSLContext, tls: Mapping, deadline: float) -> _Response:
    """Send one request; the deadline guard shuts the socket down when ``deadline`` passes."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("no time left for the request")
    if request.scheme == "http":
        connection: http.client.HTTPConnection = http.client.HTTPConnection(address, request.port, timeout=remaining)
    else:
        server_name = tls.get("server_name", address)
        connection = _HttpsConnection(address, request.port, timeout=remaining, context=tls_context, server_name=server_name)
    guard = _DeadlineGuard(connection, remaining)
    try:
        with guard:
            response = _request(connection, _method(spec), request.path, spec.params.get("headers", {}), deadline)
            response.url = _url(request.scheme, address, request.port, request.path)
    finally:
        connection.close()
    if guard.fired:
        response.body_complete = False
    return response


def _request(connection: http.client.HTTPConnection, method: str, path: str, extra_headers: Mapping[str, str], deadline: float) -> _Response:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close", **extra_headers}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()

    body = bytearray()
    ended = method == "HEAD"
    while not ended and len(body) <= MAX_BODY_BYTES and time.monotonic() < deadline:
        chunk = response.read1(min(65536, MAX_BODY_BYTES + 1 - len(body)))
        if not chunk:
            ended = True
            break
        body += chunk
    truncated = len(body) > MAX_BODY_BYTES
    return _Response("", response.status, response.headers, bytes(body[:MAX_BODY_BYTES]), truncated, ended or truncated)


def _follow(request: _Request, response: _Response, address: str, params: Mapping, tls: Mapping) -> None:
    """Point ``request`` at the redirect's target, or raise _RedirectRejected when it leaves the instance."""
    location = response.headers.get("Location")
    if not location:
        raise _RedirectRejected(verdicts.HTTP_STATUS, f"GET {response.url}: status {response.status} without a Location header")
    target = urlsplit(urljoin(response.url, location))
    # The instance serves its own address and the names that the suite sends it.
    own_names = {address.lower(), f"[{address.lower()}]"}
    host_header = {key.lower(): value for key, value in params.get("headers", {}).items()}.get("host")
    if host_header:
        own_names.add(host_header.rsplit(":", 1)[0].lower() if not host_header.startswith("[") else host_header.lower())
    if tls.get("server_name"):
        own_names.add(tls["server_name"].lower())
    if target.scheme not in ("http", "https") or (target.hostname or "").lower() not in own_names | {address.lower()}:
        raise _RedirectRejected(
            verdicts.REDIRECT_OFF_TARGET,
            f"GET {response.url}: status {response.status} redirects to {location}, another host; "
            "checks only contact the instance's own address, so set follow_redirects: 0 and expect the redirect status, "
            "or send the name in a Host header",
        )
    request.scheme = target.scheme
    request.port = target.port or (443 if target.scheme == "https" else 80)
    request.path = (target.path or "/") + (f"?{target.query}" if target.query else "")


def _classify_error(error: Exception, deadline_passed: bool, request_line: str, timeout: float) -> tuple[str, str]:
    if deadline_passed or isinstance(error, TimeoutError):
        return verdicts.TIMEOUT, f"{request_line}: no complete response within {timeout:g} s"
    if isinstance(error, ssl.SSLCertVerificationError):
        return verdicts.TLS_INVALID, f"{request_line}: the server certificate is not valid: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return verdicts.TLS_INVALID, f"{request_line}: TLS handshake failed: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return verdicts.CONNECTION_REFUSED, f"{request_line}: connection refused"
    if isinstance(error, (OSError, http.client.HTTPException)):
        return verdicts.CONNECTION_FAILED, f"{request_line}: {type(error).__name__}: {error}"
    raise error


def _judge(response: _Response, expect: Mapping, request_line: str) -> tuple[str, str]:
    """Return (reason, message) for the first unmet expectation, or (OK, ...) when all are met."""
    expected_status = expect.get("status", 200)
    if response.status != expected_status:
        return verdicts.HTTP_STATUS, f"{request_line}: status {response.status}, expected {expected_status}"

    for name, expected_value in expect.get("headers", {}).items():
        value = response.headers.get(name)
        if isinstance(expected_value, str):
            if value is None:
                return verdicts.HEADER_MISMATCH, f"{request_line}: header {name} is missing, expected it to contain {expected_value!r}"
            if expected_value not in value:
                return verdicts.HEADER_MISMATCH, f"{request_line}: header {name} is {value!r}, expected it to contain {expected_value!r}"
            continue
        failures = matchers.evaluate(f"header {name}", expected_value, value if value is not None else "")
        if failures:
            return verdicts.HEADER_MISMATCH, f"{request_line}: {'; '.join(failures)}"

    body = response.body.decode("utf-8", errors="replace")
    # A body cut at MAX_BODY_BYTES may hold the expected text past the cut.
    mismatch_reason = verdicts.OUTPUT_CAPPED if response.body_truncated else verdicts.BODY_MISMATCH
    where = f" in its first {MAX_BODY_BYTES} bytes" if response.body_truncated else ""
    needle = expect.get("body_contains")
    if needle is not None and needle not in body:
        return mismatch_reason, f"{request_line}: body does not contain {needle!r}{where}"
    pattern = expect.get("body_regex")
    if pattern is not None and not re.search(pattern, body, re.MULTILINE):
        return mismatch_reason, f"{request_line}: body does not match the regex {pattern!r}{where}"
    if "body" in expect:
        failures = matchers.evaluate("body", expect["body"], body)
        if failures:
            return mismatch_reason, f"{request_line}: {'; '.join(failures)}{where}"

    return verdicts.OK, f"{request_line}: status {response.status}"
