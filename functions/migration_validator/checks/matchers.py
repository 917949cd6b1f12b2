"""Matchers: how a suite states what a value must be, and their evaluation.

A matcher is a plain value, meaning ``equals``, or a mapping of operators that must all
hold: equals, contains, not_contains, regex, not_regex, lt, le, gt, ge and version (a
constraint such as ``">= 1.2, < 2"``). Values read from a target are text or lists of
text. For a list, ``contains`` and ``not_contains`` test membership, ``regex`` passes
when any item matches, and ``equals`` compares as sets, because tools list items in no
fixed order.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from migration_validator.versions import InvalidConstraint, satisfies

OPERATORS = ("equals", "contains", "not_contains", "regex", "not_regex", "lt", "le", "gt", "ge", "version")
_NUMERIC = {"lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b), "gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b)}


def is_operator_mapping(expected: Any) -> bool:
    return isinstance(expected, Mapping)


def evaluate(label: str, expected: Any, actual: Any, *, version_scheme: str = "generic") -> list[str]:
    """Return one message per unmet operator; an empty list means ``actual`` matches ``expected``.

    ``label`` names the value in messages, such as ``"stdout"`` or ``"owner of /etc/hosts"``.
    """
    operators = dict(expected) if is_operator_mapping(expected) else {"equals": expected}
    failures = []
    for operator, operand in operators.items():
        failure = _evaluate_one(label, operator, operand, actual, version_scheme)
        if failure:
            failures.append(failure)
    return failures


def _evaluate_one(label: str, operator: str, operand: Any, actual: Any, version_scheme: str) -> str | None:
    actual_text = _show(actual)
    if operator == "equals":
        return None if _equal(operand, actual) else f"{label} is {actual_text}, expected {_show(operand)}"
    if operator in ("contains", "not_contains"):
        needles = list(operand) if isinstance(operand, (list, tuple)) else [operand]
        present = [needle for needle in needles if _contains(actual, needle)]
        if operator == "contains":
            missing = [needle for needle in needles if needle not in present]
            return f"{label} does not contain {_show_list(missing)}; it is {actual_text}" if missing else None
        return f"{label} contains {_show_list(present)}, expected it not to; it is {actual_text}" if present else None
    if operator in ("regex", "not_regex"):
        matched = any(re.search(str(operand), item, re.MULTILINE) for item in _items(actual))
        if operator == "regex":
            return None if matched else f"{label} does not match the regex {operand!r}; it is {actual_text}"
        return f"{label} matches the regex {operand!r}, expected it not to; it is {actual_text}" if matched else None
    if operator in _NUMERIC:
        symbol, compare = _NUMERIC[operator]
        number = _number(actual)
        if number is None:
            return f"{label} is {actual_text}, not a number, expected {symbol} {operand}"
        return None if compare(number, float(operand)) else f"{label} is {_show_number(number)}, expected {symbol} {operand}"
    if operator == "version":
        versions = _items(actual)
        try:
            if any(satisfies(version, str(operand), version_scheme) for version in versions if version):
                return None
        except InvalidConstraint as error:
            return f"{label}: {error}"
        return f"{label} is {actual_text}, expected a version {operand}"
    return f"{label}: unknown matcher operator {operator!r}; use one of {', '.join(OPERATORS)}"


def _items(actual: Any) -> list[str]:
    if isinstance(actual, (list, tuple, set)):
        return [str(item) for item in actual]
    return [] if actual is None else [str(actual)]


def _contains(actual: Any, needle: Any) -> bool:
    if isinstance(actual, (list, tuple, set)):
        return any(_equal(needle, item) for item in actual)
    return actual is not None and str(needle) in str(actual)


def _equal(operand: Any, actual: Any) -> bool:
    if isinstance(actual, (list, tuple, set)):
        expected_items = operand if isinstance(operand, (list, tuple)) else [operand]
        if len(expected_items) != len(set(map(str, actual))):
            return False
        return all(any(_equal(item, value) for value in actual) for item in expected_items)
    if isinstance(operand, bool) or isinstance(actual, bool):
        return _boolean_text(operand) == _boolean_text(actual)
    if isinstance(operand, (int, float)):
        # A number in the suite compares by value, so uid 0 equals the text "0".
        number = _number(actual)
        return number is not None and number == float(operand)
    return actual is not None and str(operand) == str(actual)


def _boolean_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _show_number(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple, set)):
        return _show_list(list(value)) if value else "empty"
    if value is None:
        return "missing"
    if isinstance(value, (bool, int, float)):
        return _boolean_text(value) if isinstance(value, bool) else _show_number(float(value))
    text = str(value)
    return repr(text if len(text) <= 200 else text[:200] + "...")


def _show_list(values: Sequence[Any]) -> str:
    return ", ".join(repr(str(value)) for value in values)
