"""Matchers and version constraints: the operators suites use to state expected values."""

import pytest

from migration_validator.checks.matchers import evaluate
from migration_validator.versions import InvalidConstraint, compare_versions, parse_constraint, satisfies

# Each case: expected, actual, whether it matches.
MATCHER_CASES = [
    ("active", "active", True),
    ("active", "inactive", False),
    (0, "0", True),
    (0, "00", True),
    (10, "1", False),
    (True, "true", True),
    (False, "true", False),
    ({"contains": "80"}, "listen 8080", True),
    ({"contains": ["a", "b"]}, "a only", False),
    ({"not_contains": "error"}, "all fine", True),
    ({"not_contains": "error"}, "an error", False),
    ({"regex": "^v[0-9]+$"}, "line\nv12", True),
    ({"not_regex": "^debug"}, "debug on", False),
    ({"lt": 5}, "4", True),
    ({"le": 5}, "5", True),
    ({"gt": 5}, "5", False),
    ({"ge": 5.5}, " 6 ", True),
    ({"ge": 1}, "many", False),
    ({"ge": 1, "lt": 3}, "2", True),
    ({"ge": 1, "lt": 3}, "3", False),
    ({"version": ">= 1.2, < 2"}, "1.10.0", True),
    ({"version": ">= 1.2, < 2"}, "2.0", False),
    ({"contains": "rw"}, ["rw", "relatime"], True),
    ({"contains": "r"}, ["rw", "relatime"], False),
    ({"not_contains": "127.0.0.1"}, ["0.0.0.0"], True),
    (["10.0.0.2", "10.0.0.1"], ["10.0.0.1", "10.0.0.2"], True),
    (["10.0.0.1"], ["10.0.0.1", "10.0.0.2"], False),
    ({"regex": "^10\\."}, ["192.168.0.1", "10.1.1.1"], True),
]


@pytest.mark.parametrize(("expected", "actual", "matches"), MATCHER_CASES)
def test_matcher_cases(expected, actual, matches):
    assert (evaluate("value", expected, actual) == []) is matches


def test_matcher_message_names_value_and_expectation():
    assert evaluate("owner of /etc/app.conf", "root", "nobody") == ["owner of /etc/app.conf is 'nobody', expected 'root'"]


def test_matcher_reports_each_unmet_operator():
    failures = evaluate("count", {"ge": 5, "le": 1}, "3")

    assert failures == ["count is 3, expected >= 5", "count is 3, expected <= 1"]


def test_non_numeric_named():
    assert evaluate("free space", {"ge": 1}, "n/a") == ["free space is 'n/a', not a number, expected >= 1"]


# Each case: left, right, scheme, expected order.
VERSION_CASES = [
    ("1.2.10", "1.2.9", "generic", 1),
    ("1.0", "1.0.0", "generic", -1),
    ("1.0~rc1", "1.0", "rpm", -1),
    ("1.0^git1", "1.0", "rpm", 1),
    ("1.0^git1", "1.0.1", "rpm", -1),
    ("1:1.0-1", "2.0-1", "rpm", 1),
    ("(none):2.4.1-3.el9", "2.4.1", "rpm", 0),
    ("2.4.1-3.el9", "2.4.1-10.el9", "rpm", -1),
    ("1.0a", "1.0", "rpm", 1),
    ("1.0", "1.a", "rpm", 1),
    ("1.0~beta", "1.0", "dpkg", -1),
    ("1.0-1", "1.0-1ubuntu1", "dpkg", -1),
    ("2:1.0", "3.0", "dpkg", 1),
    ("9.1-3+deb12u1", "9.1-3", "dpkg", 1),
    ("1.0+b1", "1.0", "dpkg", 1),
    ("1.01", "1.1", "dpkg", 0),
]


@pytest.mark.parametrize(("left", "right", "scheme", "order"), VERSION_CASES)
def test_version_order(left, right, scheme, order):
    assert compare_versions(left, right, scheme) == order
    assert compare_versions(right, left, scheme) == -order


def test_constraint_clauses_parsed():
    assert parse_constraint(">= 1.2, < 2, != 1.5, 1.7") == [(">=", "1.2"), ("<", "2"), ("!=", "1.5"), ("==", "1.7")]


@pytest.mark.parametrize("text", ["", ">=", ">> 1", "1.0 2.0"])
def test_bad_constraint_rejected(text):
    with pytest.raises(InvalidConstraint):
        parse_constraint(text)


def test_dpkg_package_constraint():
    assert satisfies("8.32-4.1", ">= 8.32, < 9", "dpkg")
    assert not satisfies("8.32-4.1", "> 8.32-5", "dpkg")
