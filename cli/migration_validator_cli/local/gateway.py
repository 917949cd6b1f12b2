"""A per-function gateway between the function workers and the local AWS endpoints.

Each function gets its own port. Its workers reach moto and the MGN stand-in through that
port (``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_MGN``), so the gateway knows which function
made each call. It records every call (service, operation and the parameters that name its
resource) for the least-privilege checks, and injects DynamoDB and SNS faults from a
``FaultDice``. Requests are forwarded unchanged; the upstream is chosen by the service name
in the request's SigV4 credential scope.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .faults import FaultDice

log = logging.getLogger(__name__)

# Headers that describe one hop of the connection, not the request, so they are not forwarded.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class AwsCall:
    """One AWS API call a function made, with the request's top-level fields in ``parameters``."""

    function_name: str
    service: str  # the SigV4 signing name, which is also the IAM service prefix for every service used here
    operation: str
    parameters: dict[str, Any] = field(hash=False, compare=False)
    status: int = 0
    injected_fault: str | None = None

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def signing_service(authorization: str | None) -> str | None:
    """Return the service of a SigV4 Authorization header's credential scope."""
    if not authorization or "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    parts = scope.split("/")
    return parts[3] if len(parts) >= 5 else None


def parse_request(path: str, headers: dict[str, str], body: bytes) -> tuple[str, dict[str, Any]]:
    """Return the operation name and parameters of a JSON, query or REST-JSON request."""
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1], _json_object(body)
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = {key: values[0] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        return form.pop("Action", "Unknown"), form
    # REST-JSON (MGN): the operation is the last segment of the path.
    return urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1] or "Unknown", _json_object(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


@dataclass(frozen=True)
class ErrorResponse:
    code: str
    status: int
    body: bytes
    content_type: str


def dynamodb_error(code: str, status: int) -> ErrorResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "fault injected by the local stack"}).encode()
    return ErrorResponse(code, status, body, "application/x-amz-json-1.0")


def query_error(code: str, status: int) -> ErrorResponse:
    fault_type = "Sender" if status < 500 else "Receiver"
    body = (
        f"<ErrorResponse><Error><Type>{fault_type}</Type><Code>{code}</Code>"
        f"<Message>fault injected by the local stack</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return ErrorResponse(code, status, body, "text/xml")


# Faults before the request reaches moto: on AWS these mean the request was not applied.
_DYNAMODB_THROTTLES = (("ProvisionedThroughputExceededException", 400), ("ThrottlingException", 400))
_SNS_ERRORS = (("Throttled", 429), ("InternalError", 500))
# After moto applied the request: DynamoDB documents that an InternalServerError leaves it unknown whether it succeeded.
_DYNAMODB_LOST_RESPONSE = ("InternalServerError", 500)


class AwsGateway:
    """One recording, fault-injecting HTTP proxy port per function; a context manager."""

    def __init__(self, upstreams: dict[str, str], default_upstream: str, dice: FaultDice | None = None) -> None:
        self._upstreams = upstreams  # signing service name -> base URL, e.g. {"mgn": "http://127.0.0.1:PORT"}
        self._default_upstream = default_upstream
        self.dice = dice
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._lock = threading.Lock()
        self._calls: list[AwsCall] = []

    def __enter__(self) -> AwsGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def calls(self) -> list[AwsCall]:
        """A snapshot of the recorded calls, oldest first."""
        with self._lock:
            return list(self._calls)

    def url_for(self, function_name: str) -> str:
        """Start the function's port on first use and return its URL."""
        with self._lock:
            server = self._servers.get(function_name)
            if server is None:
                server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class(function_name))
                server.daemon_threads = True
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"aws-gateway-{function_name}", daemon=True).start()
                self._servers[function_name] = server
        return f"http://127.0.0.1:{server.server_port}"

    def stop(self) -> None:
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.shutdown()
            server.server_close()

    def _record(self, call: AwsCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _fault_before(self, service: str, operation: str) -> ErrorResponse | None:
        if self.dice is None:
            return None
        plan = self.dice.plan
        if service == "dynamodb" and self.dice.roll("dynamodb_throttle", plan.dynamodb_throttle_rate):
            return dynamodb_error(*self.dice.choose(_DYNAMODB_THROTTLES))
        if service == "sns" and operation == "Publish" and self.dice.roll("sns_error", plan.sns_error_rate):
            return query_error(*self.dice.choose(_SNS_ERRORS))
        return None

    def _fault_after(self, service: str) -> ErrorResponse | None:
        if self.dice is not None and service == "dynamodb" and self.dice.roll("dynamodb_lost_response", self.dice.plan.dynamodb_lost_response_rate):
            return dynamodb_error(*_DYNAMODB_LOST_RESPONSE)
        return None

    def _handler_class(self, function_name: str) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                service = signing_service(headers.get("authorization")) or "unknown"
                operation, parameters = parse_request(self.path, headers, body)

                fault = gateway._fault_before(service, operation)
                if fault is None:
                    status, response_headers, response_body = gateway._forward(service, self.command, self.path, self.headers.items(), body)
                    fault = gateway._fault_after(service)
                if fault is not None:
                    status, response_headers, response_body = fault.status, [("Content-Type", fault.content_type)], fault.body
                    log.info("injected %s into %s %s of %s", fault.code, service, operation, function_name)

                gateway._record(AwsCall(function_name, service, operation, parameters, status, None if fault is None else fault.code))
                self.send_response(status)
                for name, value in response_headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response_body)))
                self.end_headers()
                self.wfile.write(response_body)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_POST

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
                log.debug("%s %s", function_name, format % args)

        return Handler

    def _forward(self, service: str, method: str, path: str, headers, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = urlsplit(self._upstreams.get(service, self._default_upstream))
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            forwarded = {name: value for name, value in headers if name.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()
