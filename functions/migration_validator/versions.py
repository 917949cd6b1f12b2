"""Version comparison as dpkg and rpm do it, and version constraints such as ``>= 1.2, < 2``.

Both algorithms split a version into runs of digits and runs of other characters and
compare run by run. They differ in how they treat separators, letters and ``~``.
The dpkg rules are those of deb-version(7); the rpm rules those of rpmvercmp in RPM 4.
"""

import re
from collections.abc import Callable

SCHEMES = ("dpkg", "rpm", "generic")
_CLAUSE = re.compile(r"^\s*(==|!=|>=|<=|>|<|=)?\s*([^\s,<>=!][^\s,]*)\s*$")


class InvalidConstraint(ValueError):
    """A version constraint that cannot be parsed; the message names the text."""


def compare_versions(left: str, right: str, scheme: str = "generic") -> int:
    """Return -1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``."""
    if scheme == "dpkg":
        return _compare_dpkg(left, right)
    if scheme == "rpm":
        return _compare_rpm_evr(left, right)
    return _rpmvercmp(left.strip(), right.strip())


def parse_constraint(text: str) -> list[tuple[str, str]]:
    """Split ``">= 1.2, < 2"`` into [(">=", "1.2"), ("<", "2")]; a bare version means ``==``."""
    clauses = []
    for part in str(text).split(","):
        match = _CLAUSE.match(part)
        if not match:
            raise InvalidConstraint(
                f"{text!r} is not a version constraint; write clauses such as '>= 1.2' joined by commas"
            )
        operator = match.group(1) or "=="
        clauses.append(("==" if operator == "=" else operator, match.group(2)))
    return clauses


def satisfies(version: str, constraint: str, scheme: str = "generic") -> bool:
    """Return True when ``version`` meets every clause of ``constraint``."""
    checks: dict[str, Callable[[int], bool]] = {
        "==": lambda order: order == 0,
        "!=": lambda order: order != 0,
        ">=": lambda order: order >= 0,
        "<=": lambda order: order <= 0,
        ">": lambda order: order > 0,
        "<": lambda order: order < 0,
    }
    return all(checks[operator](compare_versions(version, wanted, scheme)) for operator, wanted in parse_constraint(constraint))


# --- dpkg -------------------------------------------------------------------------------------


def _split_dpkg(version: str) -> tuple[int, str, str]:
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    upstream, _, revision = version.rpartition("-") if "-" in version else (version, "", "0")
    return epoch, upstream, revision or "0"


def _compare_dpkg(left: str, right: str) -> int:
    left_epoch, left_upstream, left_revision = _split_dpkg(left)
    right_epoch, right_upstream, right_revision = _split_dpkg(right)
    if left_epoch != right_epoch:
        return -1 if left_epoch < right_epoch else 1
    return _dpkg_part(left_upstream, right_upstream) or _dpkg_part(left_revision, right_revision)


def _dpkg_order(character: str) -> int:
    # "~" sorts before everything, even the end of the string; letters before other characters.
    if character == "~":
        return -1
    if character.isdigit():
        return 0
    if character.isalpha():
        return ord(character)
    return ord(character) + 256


def _dpkg_part(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        difference = 0
        while (i < len(left) and not left[i].isdigit()) or (j < len(right) and not right[j].isdigit()):
            left_order = _dpkg_order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            right_order = _dpkg_order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if left_order != right_order:
                return -1 if left_order < right_order else 1
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not difference:
                difference = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if difference:
            return -1 if difference < 0 else 1
    return 0


# --- rpm --------------------------------------------------------------------------------------


def _split_rpm(version: str) -> tuple[str, str, str]:
    version = version.strip()
    epoch = "0"
    if ":" in version:
        epoch, version = version.split(":", 1)
        if not epoch.isdigit():  # rpm -q prints "(none)" for a package without an epoch
            epoch = "0"
    upstream, _, release = version.partition("-")
    return epoch, upstream, release


def _compare_rpm_evr(left: str, right: str) -> int:
    left_parts = _split_rpm(left)
    right_parts = _split_rpm(right)
    for index, (left_part, right_part) in enumerate(zip(left_parts, right_parts)):
        if index == 2 and (not left_part or not right_part):
            # A constraint without a release matches any release, as rpm's dependency rules do.
            return 0
        order = _rpmvercmp(left_part, right_part)
        if order:
            return order
    return 0


_RPM_SEGMENT = re.compile(r"~|\^|[0-9]+|[A-Za-z]+")


def _rpmvercmp(left: str, right: str) -> int:
    if left == right:
        return 0
    left_segments = _RPM_SEGMENT.findall(left)
    right_segments = _RPM_SEGMENT.findall(right)
    while left_segments or right_segments:
        left_segment = left_segments.pop(0) if left_segments else None
        right_segment = right_segments.pop(0) if right_segments else None
        # "~" sorts before everything, the end included; "^" after the end but before anything else.
        for marker, end_order in (("~", -1), ("^", 1)):
            if left_segment == marker or right_segment == marker:
                if left_segment == right_segment:
                    break
                if left_segment == marker:
                    return end_order if right_segment is None else -1
                return -end_order if left_segment is None else 1
        else:
            if left_segment is None:
                return -1
            if right_segment is None:
                return 1
            left_numeric, right_numeric = left_segment.isdigit(), right_segment.isdigit()
            if left_numeric != right_numeric:
                return 1 if left_numeric else -1
            if left_numeric:
                left_value, right_value = int(left_segment), int(right_segment)
                if left_value != right_value:
                    return -1 if left_value < right_value else 1
            elif left_segment != right_segment:
                return -1 if left_segment < right_segment else 1
    return 0
