"""Rules the state machine and the template must keep, read from the files themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / "statemachine" / "validation.asl.json").read_text()
ASL = json.loads(ASL_TEXT)
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]

TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TASKS = {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}
FALLBACK_STATES = {"RecordError", "PublishError", "TagError"}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_retries_transient_lambda_errors(name):
    retried = set()
    for retrier in TASKS[name].get("Retry", []):
        retried |= set(retrier["ErrorEquals"])

    assert TRANSIENT_LAMBDA_ERRORS <= retried or "States.ALL" in retried


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_catches_everything(name):
    catchers = TASKS[name].get("Catch", [])

    assert any("States.ALL" in catcher["ErrorEquals"] for catcher in catchers)
    assert all(catcher["ResultPath"] != "$" for catcher in catchers), "a Catch must not replace the state"


@pytest.mark.parametrize("name", sorted(set(TASKS) - FALLBACK_STATES - {"TagVerdict"}))
def test_main_path_failures_reach_fallback(name):
    targets = {catcher["Next"] for catcher in TASKS[name]["Catch"] if "States.ALL" in catcher["ErrorEquals"]}

    assert targets == {"RecordError"}


def test_last_tag_failure_is_not_a_verdict():
    catcher = TASKS["TagVerdict"]["Catch"][0]

    assert ASL["States"][catcher["Next"]]["Type"] == "Succeed"


def test_fallback_ends_failed():
    assert TASKS["RecordError"]["Next"] == "PublishError"
    assert TASKS["PublishError"]["Next"] == "TagError"
    assert ASL["States"][TASKS["TagError"]["Next"]]["Type"] == "Fail"


def test_target_not_ready_retried_then_unreachable():
    smoke_tests = TASKS["RunSmokeTests"]
    not_ready_retry = [r for r in smoke_tests["Retry"] if r["ErrorEquals"] == ["TargetNotReady"]]
    catcher = next(c for c in smoke_tests["Catch"] if c["ErrorEquals"] == ["TargetNotReady"])

    assert not_ready_retry, "TargetNotReady must be retried while the instance boots"
    assert not_ready_retry[0]["BackoffRate"] > 1
    assert ASL["States"][catcher["Next"]]["Parameters"]["verdict"] == "UNREACHABLE"


def test_retries_outlast_default_boot_grace():
    """The function returns UNREACHABLE at the deadline, so the retries must reach past it."""
    retry = next(r for r in TASKS["RunSmokeTests"]["Retry"] if r["ErrorEquals"] == ["TargetNotReady"])
    grace = int(TEMPLATE["Parameters"]["BootGraceSeconds"]["Default"])
    waited, interval = 0.0, float(retry["IntervalSeconds"])
    for _ in range(retry["MaxAttempts"]):
        waited += min(interval, retry.get("MaxDelaySeconds", interval))
        interval *= retry["BackoffRate"]

    # With FULL jitter each wait is random between 0 and this bound, so this is the
    # longest total; the expected total is half of it.
    assert waited / 2 > grace


def test_substitutions_match_definition():
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", ASL_TEXT))
    substitutions = set(RESOURCES["ValidationStateMachine"]["Properties"]["DefinitionSubstitutions"])

    assert placeholders == substitutions


def test_state_machine_is_standard_traced_and_logged():
    properties = RESOURCES["ValidationStateMachine"]["Properties"]

    assert properties["Type"] == "STANDARD"
    assert properties["Tracing"] == {"Enabled": True}
    assert properties["Logging"]["Destinations"]


def test_queue_visibility_covers_six_consumer_timeouts():
    consumer_timeout = RESOURCES["StartValidationFunction"]["Properties"]["Timeout"]

    assert RESOURCES["LaunchQueue"]["Properties"]["VisibilityTimeout"] >= 6 * consumer_timeout


def test_consumer_reports_partial_batch_failures():
    event = RESOURCES["StartValidationFunction"]["Properties"]["Events"]["Launches"]["Properties"]

    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_one_runtime_for_all_functions():
    functions = [resource for resource in RESOURCES.values() if resource["Type"] == "AWS::Serverless::Function"]

    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.11"
    assert [f for f in functions if "Runtime" in f.get("Properties", {})] == []


def test_functions_handlers_exist():
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module, _, attribute = resource["Properties"]["Handler"].rpartition(".")
        source = ROOT / "functions" / (module.replace(".", "/") + ".py")

        assert source.exists(), f"{logical_id}: {source} missing"
        assert f"def {attribute}(" in source.read_text(), f"{logical_id}: no function {attribute} in {source}"
