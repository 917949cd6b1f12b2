"""Worker process that runs one Lambda handler, like one execution environment.

Started by the local Lambda Invoke endpoint as
``python -m migration_validator_cli.local.worker`` with the function's environment:
``_HANDLER`` names the handler (``package.module.attribute``) and ``LAMBDA_TASK_ROOT``
the code directory, as in the Lambda Python runtime. The handler module is imported
once at start (the init phase) and then serves invocations until stdin closes.

Protocol: JSON lines. Requests arrive on the original stdin. Replies leave on a
duplicate of the original stdout, which is then pointed at stderr, so a handler's
``print()`` and anything else written to fd 1 ends up in the log stream instead of
the protocol. Replies: ``{"event": "ready"}`` or ``{"event": "init_error", "error": ...}``
once, then ``{"event": "result", "request_id", "payload"}`` or
``{"event": "error", "request_id", "error"}`` per request. After each invocation the
worker writes ``END RequestId: <id>`` to stderr, so the parent can tell that the invocation's log is complete.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, BinaryIO, Callable

END_MARKER = "END RequestId: "

# errorType values of the Lambda Python runtime for failures outside the handler's own code.
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
MARSHAL_ERROR = "Runtime.MarshalError"


@dataclass(frozen=True)
class CognitoIdentity:
    """Amazon Cognito identity of the caller, empty unless invoked through the AWS Mobile SDK."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass(frozen=True)
class MobileClient:
    """The ``client`` part of a client context."""

    installation_id: str | None = None
    app_title: str | None = None
    app_version_name: str | None = None
    app_version_code: str | None = None
    app_package_name: str | None = None


@dataclass(frozen=True)
class ClientContext:
    """Client context decoded from the ``X-Amz-Client-Context`` header of the Invoke call."""

    client: MobileClient | None
    custom: dict[str, Any] | None
    env: dict[str, Any] | None


@dataclass
class LambdaContext:
    """The context object passed to the handler, with the attributes of the Lambda Python runtime.

    ``memory_limit_in_mb`` is a string, as the Python runtime reads it from
    ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: ClientContext | None = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        """Return the milliseconds left before the invocation times out, never below zero."""
        return max(0, self.deadline_ms - int(time.time() * 1000))


class InitFailed(Exception):
    """Failure to load the handler. ``error_type`` is the Lambda runtime's name for the cause."""

    def __init__(self, error_type: str, message: str, stack_trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack_trace = stack_trace or []


def load_handler(handler: str) -> Callable[[Any, LambdaContext], Any]:
    """Import the handler's module and return the handler, raising InitFailed as the runtime names it."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name or not attribute:
        raise InitFailed(
            MALFORMED_HANDLER_NAME,
            f"Bad handler '{handler}': expected 'module.attribute', for example 'app.handler'",
        )

    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise InitFailed(IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {error}") from error
    except SyntaxError as error:
        raise InitFailed(
            USER_CODE_SYNTAX_ERROR,
            f"Syntax error in module '{module_name}': {error}",
            traceback.format_exception_only(type(error), error),
        ) from error

    function = getattr(module, attribute, None)
    if function is None:
        raise InitFailed(HANDLER_NOT_FOUND, f"Handler '{attribute}' missing on module '{module_name}'")
    return function


def error_payload(error: BaseException, request_id: str | None) -> dict[str, Any]:
    """Build the error object the Python runtime returns: errorType is the bare class name."""
    payload: dict[str, Any] = {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": format_user_frames(error.__traceback__),
    }
    if request_id is not None:
        payload["requestId"] = request_id
    return payload


def format_user_frames(trace: TracebackType | None) -> list[str]:
    """Format the traceback below this module's own frames, so only handler code is listed."""
    while trace is not None and trace.tb_frame.f_code.co_filename == __file__:
        trace = trace.tb_next
    return traceback.format_list(traceback.extract_tb(trace))


def decode_client_context(encoded: str | None) -> ClientContext | None:
    """Decode the base64 JSON client context, or return None when the header was absent."""
    if not encoded:
        return None
    document = json.loads(base64.b64decode(encoded))
    client = document.get("client")
    return ClientContext(
        client=MobileClient(**client) if isinstance(client, dict) else None,
        custom=document.get("custom"),
        env=document.get("env"),
    )


class Worker:
    """Request loop of one worker process, serving the parent until stdin closes."""

    def __init__(self, requests: BinaryIO, replies: BinaryIO) -> None:
        self._requests = requests
        self._replies = replies
        self._environment = os.environ

    def send(self, message: dict[str, Any]) -> None:
        self._replies.write(json.dumps(message).encode() + b"\n")
        self._replies.flush()

    def run(self) -> int:
        try:
            handler = load_handler(self._environment["_HANDLER"])
        except InitFailed as error:
            log_error(error.error_type, str(error))
            self.send({"event": "init_error", "error": init_error_payload(error)})
            return 1
        except Exception as error:  # noqa: BLE001 - an import-time failure of user code, reported like the runtime does
            log_exception(error)
            self.send({"event": "init_error", "error": error_payload(error, None)})
            return 1

        self.send({"event": "ready"})
        for line in self._requests:
            request = json.loads(line)
            self.send(self.invoke(handler, request))
        return 0

    def invoke(self, handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any]) -> dict[str, Any]:
        request_id = request["request_id"]
        context = LambdaContext(
            function_name=self._environment["AWS_LAMBDA_FUNCTION_NAME"],
            function_version=self._environment.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            invoked_function_arn=request["invoked_function_arn"],
            memory_limit_in_mb=self._environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            aws_request_id=request_id,
            log_group_name=self._environment["AWS_LAMBDA_LOG_GROUP_NAME"],
            log_stream_name=self._environment["AWS_LAMBDA_LOG_STREAM_NAME"],
            deadline_ms=request["deadline_ms"],
            client_context=decode_client_context(request.get("client_context")),
        )

        try:
            result = handler(json.loads(request["payload"]), context)
        except Exception as error:  # noqa: BLE001 - any handler error becomes the Unhandled payload
            log_exception(error)
            reply = {"event": "error", "request_id": request_id, "error": error_payload(error, request_id)}
        else:
            reply = self.marshal(request_id, result)

        flush_standard_streams()
        os.write(2, f"{END_MARKER}{request_id}\n".encode())
        return reply

    def marshal(self, request_id: str, result: Any) -> dict[str, Any]:
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as error:
            message = f"Unable to marshal response: {error}"
            log_error(MARSHAL_ERROR, message)
            error_object = {"errorMessage": message, "errorType": MARSHAL_ERROR, "requestId": request_id, "stackTrace": []}
            return {"event": "error", "request_id": request_id, "error": error_object}
        return {"event": "result", "request_id": request_id, "payload": payload}


def init_error_payload(error: InitFailed) -> dict[str, Any]:
    return {"errorMessage": str(error), "errorType": error.error_type, "stackTrace": error.stack_trace}


def log_error(error_type: str, message: str) -> None:
    """Write an error line as the Python runtime logs it: ``[ERROR] Type: message``."""
    print(f"[ERROR] {error_type}: {message}", file=sys.__stderr__, flush=True)


def log_exception(error: BaseException) -> None:
    log_error(type(error).__name__, str(error))
    lines = ["Traceback (most recent call last):\n", *format_user_frames(error.__traceback__)]
    sys.__stderr__.write("".join(lines))
    sys.__stderr__.flush()


def flush_standard_streams() -> None:
    """Flush whatever sys.stdout and sys.stderr are now, since a handler may have replaced them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def redirect_standard_streams() -> tuple[BinaryIO, BinaryIO]:
    """Keep private copies of stdin and stdout for the protocol and route fd 1 to stderr.

    Returns (requests, replies). Afterwards fd 0 reads /dev/null, and fd 1 and
    sys.stdout write to stderr, so nothing the handler does can reach the protocol pipes.
    """
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return requests, replies


def main() -> int:
    requests, replies = redirect_standard_streams()
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    return Worker(requests, replies).run()


if __name__ == "__main__":
    sys.exit(main())
