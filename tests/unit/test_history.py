"""The execution table the executions command prints."""

from __future__ import annotations

import pytest

from migration_validator_cli.history import summarize_errors


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([], ""),
        (["TargetNotReady"], "TargetNotReady"),
        (["TargetNotReady"] * 11, "TargetNotReady x11"),
        (["Lambda.ServiceException", "TargetNotReady", "TargetNotReady"], "Lambda.ServiceException, TargetNotReady x2"),
        (["A", "B", "A"], "A, B, A"),
    ],
)
def test_errors_summarized(errors, expected):
    assert summarize_errors(errors) == expected
