"""Local Lambda Invoke endpoint, exercised through a real boto3 Lambda client over loopback HTTP."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

from migration_validator_cli.local.invoke import FunctionSpec, LambdaInvokeEndpoint

SAMPLE_HANDLERS = Path(__file__).parent / "sample_handlers"
ACCOUNT_ID = "123456789012"
BASE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "FROM_BASE": "base",
    "OVERRIDDEN": "base",
}


def spec(name: str, handler: str, timeout: float = 10, environment: dict[str, str] | None = None, memory: int = 128) -> FunctionSpec:
    return FunctionSpec(name, handler, SAMPLE_HANDLERS, environment or {}, timeout, memory)


FUNCTIONS = [
    spec("echo", "echo.handler", environment={"OVERRIDDEN": "function", "AWS_REGION": "eu-west-1"}, memory=256),
    spec("failing", "failing.handler"),
    spec("sleeper", "sleeper.handler", timeout=30),
    spec("short-timeout", "sleeper.handler", timeout=0.5),
    spec("powertools", "powertools_logged.handler"),
    spec("broken", "broken_import.handler"),
]


@pytest.fixture
def log_sink() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def endpoint(log_sink: io.StringIO) -> Iterator[LambdaInvokeEndpoint]:
    with LambdaInvokeEndpoint(FUNCTIONS, BASE_ENVIRONMENT, log_sink=log_sink) as running:
        yield running


def lambda_client(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=60),
    )


@pytest.fixture
def client(endpoint: LambdaInvokeEndpoint) -> Any:
    return lambda_client(endpoint.url)


def invoke(client: Any, function_name: str, event: dict[str, Any] | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = client.invoke(FunctionName=function_name, Payload=json.dumps(event or {}), **kwargs)
    return response, json.loads(response["Payload"].read())


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def raw_post(url: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.timeout(30)
def test_invoke_returns_handler_result(client: Any) -> None:
    response, payload = invoke(client, "echo", {"instance_id": "i-0abc"})

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload["event"] == {"instance_id": "i-0abc"}


@pytest.mark.timeout(30)
def test_invoke_without_payload_passes_empty_object(client: Any) -> None:
    response = client.invoke(FunctionName="echo")

    assert json.loads(response["Payload"].read())["event"] == {}


@pytest.mark.timeout(30)
def test_context_matches_lambda_runtime(client: Any) -> None:
    response, payload = invoke(client, "echo")

    assert payload["function_name"] == "echo"
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:echo"
    assert payload["memory_limit_in_mb"] == "256"
    assert payload["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert payload["log_group_name"] == "/aws/lambda/echo"
    assert "/[$LATEST]" in payload["log_stream_name"]
    assert 0 < payload["remaining_ms"] <= 10_000


@pytest.mark.timeout(30)
def test_environment_layers_base_function_reserved(client: Any) -> None:
    keys = ["FROM_BASE", "OVERRIDDEN", "AWS_REGION", "_HANDLER", "AWS_LAMBDA_FUNCTION_TIMEOUT", "AWS_EC2_METADATA_DISABLED"]

    _, payload = invoke(client, "echo", {"env_keys": keys})

    environment = payload["environment"]
    assert environment["FROM_BASE"] == "base"
    assert environment["OVERRIDDEN"] == "function"
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["_HANDLER"] == "echo.handler"
    assert environment["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "10"
    assert environment["AWS_EC2_METADATA_DISABLED"] == "true"


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("function_name", "qualifier", "invoked_arn_suffix"),
    [
        ("echo", None, "function:echo"),
        (f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:echo", None, "function:echo"),
        (f"{ACCOUNT_ID}:function:echo", None, "function:echo"),
        ("echo:live", None, "function:echo:live"),
        (f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:echo:7", None, "function:echo:7"),
        ("echo", "$LATEST", "function:echo:$LATEST"),
    ],
)
def test_function_name_forms_resolve(client: Any, function_name: str, qualifier: str | None, invoked_arn_suffix: str) -> None:
    extra = {"Qualifier": qualifier} if qualifier else {}

    response, payload = invoke(client, function_name, **extra)

    assert response["StatusCode"] == 200
    assert payload["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:{invoked_arn_suffix}"


@pytest.mark.timeout(30)
def test_unknown_function_raises_resource_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
        client.invoke(FunctionName="missing")

    assert f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:missing" in str(raised.value)


@pytest.mark.timeout(30)
def test_unknown_function_http_shape(endpoint: LambdaInvokeEndpoint) -> None:
    status, headers, body = raw_post(endpoint.url, "/2015-03-31/functions/missing/invocations", b"{}")

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(body) == {
        "Type": "User",
        "Message": f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:missing",
    }


@pytest.mark.timeout(30)
def test_function_in_other_account_not_found(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="arn:aws:lambda:us-east-1:210987654321:function:echo")


@pytest.mark.timeout(30)
def test_conflicting_qualifiers_rejected(client: Any) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke(FunctionName="echo:blue", Qualifier="green")


@pytest.mark.timeout(30)
def test_invalid_json_payload_rejected(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")

    assert endpoint.invocations == []


@pytest.mark.timeout(30)
def test_event_payload_over_quota_rejected(client: Any) -> None:
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"data": "x" * (1024 * 1024)}))


@pytest.mark.timeout(30)
def test_event_invocation_runs_in_background(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    response = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    while not endpoint.invocations:
        threading.Event().wait(0.05)
    record = endpoint.invocations[0]
    assert record.invocation_type == "Event"
    assert record.request_id == response["ResponseMetadata"]["RequestId"]
    assert record.outcome == "ok"


@pytest.mark.timeout(30)
def test_dry_run_runs_nothing(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    response = client.invoke(FunctionName="echo", InvocationType="DryRun")

    assert response["StatusCode"] == 204
    assert endpoint.invocations == []


@pytest.mark.timeout(30)
def test_handler_exception_becomes_unhandled_error(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    response, payload = invoke(client, "failing", {"instance_id": "i-0abc"})

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "TargetNotReady"
    assert payload["errorMessage"] == "instance i-0abc is not reachable yet"
    assert any("failing.py" in frame for frame in payload["stackTrace"])
    assert endpoint.invocations[0].outcome == "error"
    assert endpoint.invocations[0].error_type == "TargetNotReady"


@pytest.mark.timeout(30)
def test_unserializable_result_is_marshal_error(client: Any) -> None:
    response, payload = invoke(client, "failing", {"action": "unserializable"})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.MarshalError"


@pytest.mark.timeout(30)
def test_print_goes_to_log_not_protocol(client: Any, log_sink: io.StringIO) -> None:
    _, payload = invoke(client, "echo")

    assert payload["function_name"] == "echo"
    assert "[echo] echo handler printed to stdout\n" in log_sink.getvalue()


@pytest.mark.timeout(30)
def test_log_lines_framed_by_start_end_report(client: Any, log_sink: io.StringIO) -> None:
    response, _ = invoke(client, "echo")

    request_id = response["ResponseMetadata"]["RequestId"]
    lines = log_sink.getvalue().splitlines()
    start = lines.index(f"[echo] START RequestId: {request_id} Version: $LATEST")
    end = lines.index(f"[echo] END RequestId: {request_id}")
    assert start < lines.index("[echo] echo handler printed to stdout") < end
    assert lines[end + 1].startswith(f"[echo] REPORT RequestId: {request_id}")


@pytest.mark.timeout(30)
def test_log_type_tail_returns_invocation_log(client: Any) -> None:
    response, _ = invoke(client, "echo", LogType="Tail")

    log = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id}" in log
    assert "echo handler printed to stdout" in log
    assert f"REPORT RequestId: {request_id}" in log


@pytest.mark.timeout(30)
def test_client_context_reaches_handler(client: Any) -> None:
    client_context = base64.b64encode(json.dumps({"custom": {"wave": "3"}}).encode()).decode()

    _, payload = invoke(client, "echo", ClientContext=client_context)

    assert payload["client_context_custom"] == {"wave": "3"}


@pytest.mark.timeout(30)
def test_warm_worker_reused_without_reimport(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    _, first = invoke(client, "echo")
    _, second = invoke(client, "echo")

    assert second["pid"] == first["pid"]
    assert second["init_pid"] == first["pid"]
    assert [record.cold_start for record in endpoint.invocations] == [True, False]


@pytest.mark.timeout(30)
def test_timeout_kills_worker_and_replaces_it(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    response, payload = invoke(client, "short-timeout", {"seconds": 30})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in payload["errorMessage"]
    stuck_pid = endpoint.invocations[0].worker_pid
    assert stuck_pid is not None
    assert not process_exists(stuck_pid)

    response, payload = invoke(client, "short-timeout", {"seconds": 0})
    assert "FunctionError" not in response
    assert payload["pid"] != stuck_pid
    assert endpoint.invocations[0].outcome == "timeout"


@pytest.mark.timeout(30)
def test_worker_exit_reported_and_replaced(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    response, payload = invoke(client, "failing", {"action": "exit"})

    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in payload["errorMessage"]

    _, payload = invoke(client, "failing", {"instance_id": "i-0abc"})
    assert payload["errorType"] == "TargetNotReady"
    pids = [record.worker_pid for record in endpoint.invocations]
    assert pids[0] != pids[1]


@pytest.mark.timeout(30)
def test_import_error_reported_on_every_invoke(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    for _ in range(2):
        response, payload = invoke(client, "broken")
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ImportModuleError"
        assert "module_that_does_not_exist" in payload["errorMessage"]

    assert [record.cold_start for record in endpoint.invocations] == [True, True]


@pytest.mark.timeout(30)
def test_concurrent_invocations_run_in_parallel(endpoint: LambdaInvokeEndpoint) -> None:
    results: list[dict[str, Any]] = []

    def call() -> None:
        _, payload = invoke(lambda_client(endpoint.url), "sleeper", {"seconds": 1})
        results.append(payload)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = endpoint.invocations
    assert len(results) == 3
    assert len({record.worker_pid for record in records}) == 3
    assert max(record.started_at for record in records) < min(record.finished_at for record in records)


@pytest.mark.timeout(30)
def test_pool_limit_queues_extra_invocations() -> None:
    with LambdaInvokeEndpoint([spec("sleeper", "sleeper.handler")], BASE_ENVIRONMENT, max_workers_per_function=1) as endpoint:
        threads = [
            threading.Thread(target=invoke, args=(lambda_client(endpoint.url), "sleeper", {"seconds": 0.3})) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        first, second = sorted(endpoint.invocations, key=lambda record: record.started_at)
    assert first.worker_pid == second.worker_pid
    assert first.finished_at <= second.started_at


@pytest.mark.timeout(30)
def test_powertools_logger_sees_lambda_context(client: Any, log_sink: io.StringIO) -> None:
    response, _ = invoke(client, "powertools", {"marker": "m-1"})

    log_lines = [line.removeprefix("[powertools] ") for line in log_sink.getvalue().splitlines()]
    entries = [json.loads(line) for line in log_lines if line.startswith("{")]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["marker"] == "m-1"
    assert entry["function_name"] == "powertools"
    assert entry["function_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert entry["function_arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:powertools"
    assert entry["cold_start"] is True


@pytest.mark.timeout(30)
def test_stop_kills_all_workers(client: Any, endpoint: LambdaInvokeEndpoint) -> None:
    _, payload = invoke(client, "echo")

    endpoint.stop()

    assert not process_exists(payload["pid"])


def test_non_loopback_host_rejected() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        LambdaInvokeEndpoint(FUNCTIONS, BASE_ENVIRONMENT, host="0.0.0.0")


def test_duplicate_function_names_rejected() -> None:
    with pytest.raises(ValueError, match="given twice"):
        LambdaInvokeEndpoint([spec("echo", "echo.handler"), spec("echo", "echo.handler")], BASE_ENVIRONMENT)
