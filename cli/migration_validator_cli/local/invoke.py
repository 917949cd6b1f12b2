"""Local Lambda Invoke endpoint that runs handlers in warm worker processes.

It serves the Lambda Invoke REST API (``POST /2015-03-31/functions/{FunctionName}/invocations``),
the API that ``sam local start-lambda`` also serves, so an unchanged boto3 Lambda client
reaches it through ``endpoint_url`` or ``AWS_ENDPOINT_URL_LAMBDA``. Each function has its
own pool of worker processes (see ``worker.py``), which behave like Lambda execution
environments: started on demand, the handler module imported once per worker, idle
workers reused, the function timeout enforced by killing the worker.

Deviations from AWS Lambda:
- Every qualifier (version or alias) runs the one local code, reported as ``$LATEST``.
- ``Event`` invocations run once in the background and are not retried on error.
- When all workers of a function are busy, a request waits for one instead of being
  throttled, and that wait is not counted toward the function timeout.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import math
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from migration_validator_cli.local.faults import FaultDice
from migration_validator_cli.local.worker import END_MARKER

logger = logging.getLogger(__name__)

WORKER_MODULE = "migration_validator_cli.local.worker"
CLI_ROOT = Path(__file__).resolve().parents[2]

# Payload quotas from the Invoke documentation in botocore's Lambda service model:
# 6 MB for synchronous invocations (request and response), 1 MB for asynchronous ones.
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
# X-Amz-Log-Result carries the last 4 KB of the invocation's log.
LOG_TAIL_BYTES = 4096
# Lambda's init phase limit for on-demand functions.
INIT_TIMEOUT_SECONDS = 10.0
# How long to wait for a worker's END log line after its reply, so the log is complete.
LOG_FLUSH_WAIT_SECONDS = 2.0
# Interval at which the HTTP server checks for stop(), so stop() waits up to this long.
SHUTDOWN_POLL_SECONDS = 0.05

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")
LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the template declares it, with its environment already resolved."""

    name: str
    handler: str
    code_dir: Path
    environment: dict[str, str]
    timeout_seconds: float
    memory_mb: int = 128


@dataclass(frozen=True)
class InvocationRecord:
    """One finished invocation. Times are ``time.monotonic()`` seconds, for ordering only.

    ``started_at`` is when a worker was assigned, so on a cold start it includes the init phase.
    """

    function_name: str
    request_id: str
    invocation_type: str
    outcome: str  # "ok", "error" or "timeout"
    error_type: str | None
    started_at: float
    finished_at: float
    worker_pid: int | None
    cold_start: bool

    @property
    def duration_seconds(self) -> float:
        return self.finished_at - self.started_at


@dataclass(frozen=True)
class InvocationResult:
    """Payload, function error and base64 log tail of one invocation, as the Invoke API returns them."""

    payload: bytes
    function_error: str | None
    log_tail: str


# --- Invoke API errors ------------------------------------------------------------------


class LambdaApiError(Exception):
    """An Invoke request rejected before the handler runs, sent to the client as a Lambda API error."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    error_code = "ServiceException"
    message_key = "Message"

    def body(self) -> bytes:
        return json.dumps({"Type": "User", self.message_key: str(self)}).encode()


class FunctionNotFound(LambdaApiError):
    status = HTTPStatus.NOT_FOUND
    error_code = "ResourceNotFoundException"

    def __init__(self, function_arn: str) -> None:
        super().__init__(f"Function not found: {function_arn}")
        self.function_arn = function_arn


class InvalidParameterValue(LambdaApiError):
    status = HTTPStatus.BAD_REQUEST
    error_code = "InvalidParameterValueException"


class InvalidRequestContent(LambdaApiError):
    status = HTTPStatus.BAD_REQUEST
    error_code = "InvalidRequestContentException"
    message_key = "message"


class RequestTooLarge(LambdaApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    error_code = "RequestTooLargeException"
    message_key = "message"

    def __init__(self, size: int, limit: int, invocation_type: str) -> None:
        super().__init__(
            f"Request payload of {size} bytes exceeds the {limit} byte limit for {invocation_type} invocations"
        )


class EndpointStopped(LambdaApiError):
    def __init__(self, function_name: str) -> None:
        super().__init__(f"The local Lambda endpoint is stopping, so the invocation of {function_name} was not run: start the endpoint again")


# --- Function names -----------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionReference:
    """A FunctionName path parameter split into its parts. Region and account are None unless it is an ARN."""

    name: str
    qualifier: str | None
    region: str | None
    account_id: str | None


def parse_function_reference(raw: str, qualifier: str | None) -> FunctionReference:
    """Split a name, ``name:qualifier``, partial ARN or full ARN, and merge ``?Qualifier=``."""
    parts = raw.split(":")
    region = account_id = None
    if parts[0] == "arn" and len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        region, account_id, rest = parts[3], parts[4], parts[6:]
    elif len(parts) >= 3 and parts[1] == "function" and re.fullmatch(r"\d{12}", parts[0]):
        account_id, rest = parts[0], parts[2:]
    else:
        rest = parts

    if len(rest) > 2 or not rest[0]:
        raise InvalidParameterValue(f"Invalid function name {raw!r}: expected a name, a partial ARN or a function ARN")

    name_qualifier = rest[1] if len(rest) == 2 else None
    if name_qualifier and qualifier and name_qualifier != qualifier:
        raise InvalidParameterValue(
            f"The derived qualifier {name_qualifier!r} from the function name {raw!r} "
            f"does not match the specified qualifier {qualifier!r}"
        )
    return FunctionReference(rest[0], name_qualifier or qualifier, region or None, account_id or None)


# --- Worker processes -------------------------------------------------------------------------


class LogWriter:
    """Writes worker log lines, prefixed with the function name, to the sink or the module logger."""

    def __init__(self, sink: TextIO | None) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def write(self, function_name: str, line: str) -> None:
        line = line.rstrip("\n")
        if self._sink is None:
            logger.debug("[%s] %s", function_name, line)
            return
        with self._lock:
            self._sink.write(f"[{function_name}] {line}\n")
            self._sink.flush()


@dataclass
class _LogCapture:
    request_id: str
    lines: list[str] = field(default_factory=list)
    complete: threading.Event = field(default_factory=threading.Event)


class WorkerTimedOut(Exception):
    """The worker sent no reply within the allowed time."""


class WorkerExited(Exception):
    """The worker process ended. ``description`` reads like the Lambda runtime's exit message."""

    def __init__(self, pid: int, description: str) -> None:
        super().__init__(f"worker {pid} exited: {description}")
        self.pid = pid
        self.description = description


class WorkerProcess:
    """One worker process of a function: the parent side of the JSON-lines protocol."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log_writer: LogWriter) -> None:
        self.spec = spec
        self._log_writer = log_writer
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._capture_lock = threading.Lock()
        self._capture: _LogCapture | None = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=spec.code_dir,
            start_new_session=True,  # its own process group, so a kill also ends what the handler started
        )
        self.pid = self.process.pid
        threading.Thread(target=self._read_replies, name=f"worker-{self.pid}-replies", daemon=True).start()
        threading.Thread(target=self._read_logs, name=f"worker-{self.pid}-logs", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> dict[str, Any] | None:
        """Wait for the end of the init phase and return the init error object, or None when the handler loaded."""
        reply = self._next_reply(timeout)
        if reply["event"] == "ready":
            return None
        return reply["error"]

    def invoke(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any], list[str]]:
        """Send one request and return the reply with the log lines the handler wrote for it."""
        capture = _LogCapture(request["request_id"])
        with self._capture_lock:
            self._capture = capture

        try:
            self._send(request)
            reply = self._next_reply(timeout)
            capture.complete.wait(LOG_FLUSH_WAIT_SECONDS)
        finally:
            with self._capture_lock:
                self._capture = None
        return reply, capture.lines

    def kill(self) -> None:
        """Kill the worker's process group unless the worker already exited, and reap the worker."""
        if self.process.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def _send(self, request: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WorkerExited(self.pid, self._exit_description()) from error

    def _next_reply(self, timeout: float) -> dict[str, Any]:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise WorkerTimedOut() from None
        if reply is None:
            raise WorkerExited(self.pid, self._exit_description())
        return reply

    def _exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "Runtime closed its protocol pipe but is still running"
        if code < 0:
            return f"Runtime exited with error: signal: {signal.Signals(-code).name}"
        return f"Runtime exited with error: exit status {code}"

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self._replies.put(json.loads(line))
            except json.JSONDecodeError:
                logger.error("Worker %s of %s sent a line that is not JSON: %r", self.pid, self.spec.name, line[:200])
        self._replies.put(None)

    def _read_logs(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", errors="replace")
            self._log_writer.write(self.spec.name, line)
            with self._capture_lock:
                capture = self._capture
                if capture is not None:
                    capture.lines.append(line)
                    if f"{END_MARKER}{capture.request_id}" in line:
                        capture.complete.set()

        with self._capture_lock:
            if self._capture is not None:
                self._capture.complete.set()


class FunctionPool:
    """The worker processes of one function: at most ``max_workers``, idle ones reused newest first."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], max_workers: int, log_writer: LogWriter) -> None:
        self.spec = spec
        self._environment = environment
        self._max_workers = max_workers
        self._log_writer = log_writer
        self._condition = threading.Condition()
        self._idle: list[WorkerProcess] = []
        self._workers: set[WorkerProcess] = set()
        self._starting = 0
        self._closed = False

    def acquire(self) -> tuple[WorkerProcess, bool]:
        """Return an idle worker, or start one if the pool has room, else wait. True means new."""
        with self._condition:
            while True:
                if self._closed:
                    raise EndpointStopped(self.spec.name)
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker, False
                    self._workers.discard(worker)
                if len(self._workers) + self._starting < self._max_workers:
                    self._starting += 1
                    break
                self._condition.wait()

        try:
            worker = WorkerProcess(self.spec, self._worker_environment(), self._log_writer)
        finally:
            with self._condition:
                self._starting -= 1
                self._condition.notify()

        with self._condition:
            self._workers.add(worker)
            closed = self._closed
        if closed:
            worker.kill()
            raise EndpointStopped(self.spec.name)
        logger.info("Started worker %s for %s", worker.pid, self.spec.name)
        return worker, True

    def release(self, worker: WorkerProcess) -> None:
        """Put a worker back after an invocation. A dead worker is dropped, so the next acquire() starts a new one."""
        with self._condition:
            keep = worker.alive and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._condition.notify()
        if not keep:
            worker.kill()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            workers = list(self._workers)
            self._idle.clear()
            self._condition.notify_all()
        for worker in workers:
            worker.kill()

    def _worker_environment(self) -> dict[str, str]:
        environment = dict(self._environment)
        stream_id = uuid.uuid4().hex
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] = f"{datetime.now(timezone.utc):%Y/%m/%d}/[{LATEST}]{stream_id}"
        return environment


# --- Invocations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    """The outcome of running one request on a worker."""

    payload: bytes
    function_error: str | None
    outcome: str
    error_type: str | None

    @classmethod
    def failed(cls, error: dict[str, Any]) -> _Attempt:
        error_type = error["errorType"]
        outcome = "timeout" if error_type == "Sandbox.Timedout" else "error"
        return cls(json.dumps(error).encode(), "Unhandled", outcome, error_type)


def error_object(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}


def format_seconds(seconds: float) -> str:
    return f"{seconds:g}"


class LambdaInvokeEndpoint:
    """Lambda Invoke API on loopback for the given functions, usable as a context manager.

    ``base_environment`` is the environment every worker starts from (credentials,
    ``AWS_ENDPOINT_URL``). Each function's own environment overrides it, and the variables
    Lambda reserves (``AWS_LAMBDA_*``, ``_HANDLER``, ``AWS_REGION``, ...) override both.
    ``AWS_EC2_METADATA_DISABLED=true`` is always set, so a handler without credentials
    fails fast instead of querying an instance metadata service. Unless the environments
    set them, workers also get this process's PATH and ``AWS_SAM_LOCAL=true``, which
    ``sam local`` sets too and which turns Powertools tracing off.
    """

    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        base_environment: dict[str, str],
        *,
        max_workers_per_function: int = 4,
        host: str = "127.0.0.1",
        port: int = 0,
        log_sink: TextIO | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host {host!r} is not an IP address: use a loopback address such as 127.0.0.1") from None
        if not address.is_loopback:
            raise ValueError(f"host {host!r} is not a loopback address: the local endpoint serves 127.0.0.0/8 or ::1 only")
        if max_workers_per_function < 1:
            raise ValueError(f"max_workers_per_function is {max_workers_per_function}: it must be at least 1")

        self.region = region
        self.account_id = account_id
        self._host = host
        self._port = port
        self._log_writer = LogWriter(log_sink)
        self._records: list[InvocationRecord] = []
        self._records_lock = threading.Lock()
        self._background: set[threading.Thread] = set()
        # Set by the local stack to inject Lambda service errors and timeouts into synchronous invocations.
        self.faults: FaultDice | None = None
        self._server: ThreadingHTTPServer | None = None
        self._server_thread: threading.Thread | None = None

        self._pools: dict[str, FunctionPool] = {}
        for spec in functions:
            if spec.name in self._pools:
                raise ValueError(f"function name {spec.name!r} is given twice: function names must be unique")
            environment = self._environment_for(spec, base_environment)
            self._pools[spec.name] = FunctionPool(spec, environment, max_workers_per_function, self._log_writer)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the endpoint has no URL before start(): call start() or use it as a context manager")
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self._server.server_port}"

    @property
    def invocations(self) -> list[InvocationRecord]:
        """A snapshot of the finished invocations, oldest first."""
        with self._records_lock:
            return list(self._records)

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def start(self) -> None:
        server_class = _IPv6Server if ":" in self._host else _Server
        self._server = server_class((self._host, self._port), _InvokeRequestHandler)
        self._server.endpoint = self
        self._server_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="lambda-invoke-endpoint",
            daemon=True,
        )
        self._server_thread.start()
        logger.info("Lambda Invoke endpoint listening on %s for %d functions", self.url, len(self._pools))

    def stop(self) -> None:
        """Stop serving and kill every worker, so Event invocations still running end with Runtime.ExitError."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for pool in self._pools.values():
            pool.close()
        for thread in list(self._background):
            thread.join(timeout=LOG_FLUSH_WAIT_SECONDS + 5)
        logger.info("Lambda Invoke endpoint stopped")

    def __enter__(self) -> LambdaInvokeEndpoint:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- request handling, called from the HTTP handler -------------------------------------------

    def resolve(self, reference: FunctionReference) -> FunctionPool:
        arn = self.function_arn(reference.name, reference.qualifier)
        if reference.region not in (None, self.region) or reference.account_id not in (None, self.account_id):
            arn = (
                f"arn:aws:lambda:{reference.region or self.region}:{reference.account_id or self.account_id}"
                f":function:{reference.name}"
            )
            raise FunctionNotFound(arn)
        pool = self._pools.get(reference.name)
        if pool is None:
            raise FunctionNotFound(arn)
        return pool

    def invoke_sync(
        self, pool: FunctionPool, payload: bytes, invoked_arn: str, client_context: str | None, request_id: str
    ) -> InvocationResult:
        fault = self.faults.lambda_fault(pool.spec.name) if self.faults else None
        if fault is None or not fault.before_handler:
            result = self._run(pool, payload, invoked_arn, client_context, request_id, "RequestResponse")
        if fault is None:
            return result
        self._log_writer.write(pool.spec.name, f"[local stack] RequestId: {request_id} injected fault {fault.error_type}")
        return InvocationResult(fault.payload(request_id), "Unhandled", "")

    def invoke_async(self, pool: FunctionPool, payload: bytes, invoked_arn: str, request_id: str) -> None:
        def run() -> None:
            try:
                result = self._run(pool, payload, invoked_arn, None, request_id, "Event")
                if result.function_error:
                    logger.warning(
                        "Event invocation %s of %s failed and is not retried: %s",
                        request_id,
                        pool.spec.name,
                        result.payload[:500].decode(errors="replace"),
                    )
            except LambdaApiError as error:
                logger.warning("Event invocation %s of %s was not run: %s", request_id, pool.spec.name, error)
            finally:
                self._background.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"event-{request_id}", daemon=True)
        self._background.add(thread)
        thread.start()

    def _run(
        self,
        pool: FunctionPool,
        payload: bytes,
        invoked_arn: str,
        client_context: str | None,
        request_id: str,
        invocation_type: str,
    ) -> InvocationResult:
        spec = pool.spec
        worker, cold_start = pool.acquire()
        started_at = time.monotonic()
        log_lines: list[str] = []
        try:
            attempt = self._execute(worker, cold_start, payload, invoked_arn, client_context, request_id, log_lines)
        finally:
            finished_at = time.monotonic()
            pool.release(worker)

        report_line = self._report_line(request_id, started_at, finished_at, spec)
        self._log_writer.write(spec.name, report_line)
        log_lines.append(report_line + "\n")
        record = InvocationRecord(
            function_name=spec.name,
            request_id=request_id,
            invocation_type=invocation_type,
            outcome=attempt.outcome,
            error_type=attempt.error_type,
            started_at=started_at,
            finished_at=finished_at,
            worker_pid=worker.pid,
            cold_start=cold_start,
        )
        with self._records_lock:
            self._records.append(record)

        log_tail = "".join(log_lines).encode()[-LOG_TAIL_BYTES:]
        return InvocationResult(attempt.payload, attempt.function_error, base64.b64encode(log_tail).decode())

    def _execute(
        self,
        worker: WorkerProcess,
        cold_start: bool,
        payload: bytes,
        invoked_arn: str,
        client_context: str | None,
        request_id: str,
        log_lines: list[str],
    ) -> _Attempt:
        """Run one request on a worker and kill the worker on timeout. Appends the invocation's log lines to log_lines."""
        spec = worker.spec
        if cold_start:
            init_error = self._init(worker, request_id)
            if init_error is not None:
                worker.kill()  # the worker exits after an init error, so reap it before the pool could reuse it
                init_error.setdefault("requestId", request_id)
                return _Attempt.failed(init_error)

        start_line = f"START RequestId: {request_id} Version: {LATEST}"
        self._log_writer.write(spec.name, start_line)
        log_lines.append(start_line + "\n")
        request = {
            "request_id": request_id,
            "payload": payload.decode("utf-8") if payload.strip() else "{}",
            "deadline_ms": int(time.time() * 1000 + spec.timeout_seconds * 1000),
            "invoked_function_arn": invoked_arn,
            "client_context": client_context,
        }

        try:
            reply, handler_lines = worker.invoke(request, spec.timeout_seconds)
        except WorkerTimedOut:
            worker.kill()
            logger.warning(
                "%s request %s timed out after %.2f s, so worker %s was killed", spec.name, request_id, spec.timeout_seconds, worker.pid
            )
            message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout_seconds:.2f} seconds"
            return _Attempt.failed(error_object("Sandbox.Timedout", message, request_id))
        except WorkerExited as exited:
            logger.warning("%s worker %s exited during request %s: %s", spec.name, worker.pid, request_id, exited.description)
            message = f"RequestId: {request_id} Error: {exited.description}"
            return _Attempt.failed(error_object("Runtime.ExitError", message, request_id))

        log_lines.extend(handler_lines)
        if reply["event"] == "error":
            return _Attempt.failed(reply["error"])

        body = reply["payload"].encode()
        if len(body) > MAX_SYNC_PAYLOAD_BYTES:
            message = (
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
                f"({MAX_SYNC_PAYLOAD_BYTES} bytes)."
            )
            return _Attempt.failed(error_object("Function.ResponseSizeTooLarge", message, request_id))
        return _Attempt(body, None, "ok", None)

    def _init(self, worker: WorkerProcess, request_id: str) -> dict[str, Any] | None:
        """Wait for a new worker's init phase and return its error object, or None when the handler loaded."""
        try:
            return worker.wait_ready(INIT_TIMEOUT_SECONDS)
        except WorkerTimedOut:
            worker.kill()
            message = f"RequestId: {request_id} Error: Init phase timed out after {INIT_TIMEOUT_SECONDS:.2f} seconds"
            return {"errorMessage": message, "errorType": "Sandbox.Timedout", "stackTrace": []}
        except WorkerExited as exited:
            message = f"RequestId: {request_id} Error: {exited.description}"
            return {"errorMessage": message, "errorType": "Runtime.ExitError", "stackTrace": []}

    def _report_line(self, request_id: str, started_at: float, finished_at: float, spec: FunctionSpec) -> str:
        duration_ms = (finished_at - started_at) * 1000
        return (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {spec.memory_mb} MB"
        )

    def _environment_for(self, spec: FunctionSpec, base_environment: dict[str, str]) -> dict[str, str]:
        code_dir = str(Path(spec.code_dir).resolve())
        python_path = [code_dir, str(CLI_ROOT)]
        for entry in (base_environment.get("PYTHONPATH"), spec.environment.get("PYTHONPATH")):
            if entry:
                python_path.append(entry)

        environment = {"PATH": os.environ.get("PATH", os.defpath), "AWS_SAM_LOCAL": "true"}
        environment.update(base_environment)
        environment.update(spec.environment)
        environment.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_VERSION": LATEST,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": format_seconds(spec.timeout_seconds),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_EC2_METADATA_DISABLED": "true",
                "LAMBDA_TASK_ROOT": code_dir,
                "TZ": ":UTC",
                "_HANDLER": spec.handler,
                "PYTHONPATH": os.pathsep.join(python_path),
            }
        )
        return environment


# --- HTTP -------------------------------------------------------------------------------------------


class UnknownOperation(LambdaApiError):
    status = HTTPStatus.NOT_FOUND
    error_code = "UnknownOperationException"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"{method} {path} is not an operation of this endpoint: it serves only Lambda Invoke")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    endpoint: LambdaInvokeEndpoint


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _InvokeRequestHandler(BaseHTTPRequestHandler):
    """Serves ``POST /2015-03-31/functions/{FunctionName}/invocations`` as the Lambda service does."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
            self._invoke(request_id, body)
        except LambdaApiError as error:
            self._send(error.status, error.body(), {"x-amzn-ErrorType": error.error_code}, request_id)
        except Exception:
            logger.exception("Invoke request %s for %s failed inside the local endpoint", request_id, self.path)
            error = LambdaApiError(f"Request {request_id} failed inside the local Lambda endpoint: see its log")
            self._send(error.status, error.body(), {"x-amzn-ErrorType": error.error_code}, request_id)

    def do_GET(self) -> None:  # noqa: N802
        self._reject_unknown()

    do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed by the base class
        logger.debug("%s %s", self.address_string(), format % args)

    def _invoke(self, request_id: str, body: bytes) -> None:
        url = urlsplit(self.path)
        match = INVOKE_PATH.match(url.path)
        if match is None:
            raise UnknownOperation(self.command, url.path)

        qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
        reference = parse_function_reference(unquote(match["function"]), qualifier)
        endpoint = self.server.endpoint
        pool = endpoint.resolve(reference)
        invoked_arn = endpoint.function_arn(reference.name, reference.qualifier)

        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValue(
                f"Invalid X-Amz-Invocation-Type {invocation_type!r}: use RequestResponse, Event or DryRun"
            )
        limit = MAX_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else MAX_SYNC_PAYLOAD_BYTES
        if len(body) > limit:
            raise RequestTooLarge(len(body), limit, invocation_type)
        check_json(body)

        if invocation_type == "DryRun":
            self._send(HTTPStatus.NO_CONTENT, b"", {}, request_id)
            return
        if invocation_type == "Event":
            endpoint.invoke_async(pool, body, invoked_arn, request_id)
            self._send(HTTPStatus.ACCEPTED, b"", {}, request_id)
            return

        result = endpoint.invoke_sync(pool, body, invoked_arn, self.headers.get("X-Amz-Client-Context"), request_id)
        headers = {"X-Amz-Executed-Version": LATEST}
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = result.log_tail
        self._send(HTTPStatus.OK, result.payload, headers, request_id)

    def _reject_unknown(self) -> None:
        request_id = str(uuid.uuid4())
        self._read_body()
        error = UnknownOperation(self.command, urlsplit(self.path).path)
        self._send(error.status, error.body(), {"x-amzn-ErrorType": error.error_code}, request_id)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._read_chunks())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _send(self, status: int, body: bytes, headers: dict[str, str], request_id: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)


def check_json(body: bytes) -> None:
    """Raise InvalidRequestContent unless the body is empty or a UTF-8 JSON document."""
    if not body.strip():
        return
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequestContent(f"Could not parse request body into json: {error}") from error
