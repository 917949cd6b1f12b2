"""Smoke-test suites: YAML files in the suites directory, validated against its JSON Schema.

A suite named ``web-app`` is the file ``<suites_dir>/web-app.yaml``; the schema is
``<suites_dir>/suite.schema.json``, so the directory ships with its own contract.
"""

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError as SchemaError

from migration_validator.errors import SuiteInvalid, SuiteNotFound

SCHEMA_FILE = "suite.schema.json"
SUITE_SUFFIX = ".yaml"
SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DEFAULT_TIMEOUT_SECONDS = 10.0

_REGEX_FIELDS = ("stdout_regex", "stderr_regex", "body_regex")


@dataclass(frozen=True)
class CheckSpec:
    """One check as written in a suite; ``params`` holds the type-specific fields, read-only."""

    id: str
    type: str
    timeout_seconds: float
    required: bool
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Suite:
    """A validated suite; ``content_hash`` is the SHA-256 of the parsed document as canonical JSON."""

    name: str
    description: str
    checks: tuple[CheckSpec, ...]
    content_hash: str
    path: Path


def list_suites(suites_dir: Path) -> list[str]:
    """Return the names of the suite files in ``suites_dir``, sorted."""
    return sorted(
        path.stem
        for path in Path(suites_dir).glob(f"*{SUITE_SUFFIX}")
        if path.is_file() and SUITE_NAME.match(path.stem)
    )


def load_suite(name: str, suites_dir: Path) -> Suite:
    """Load and validate the suite ``name``.

    Raises SuiteNotFound for a name that is not a suite file in ``suites_dir``
    (names outside ``^[a-z0-9][a-z0-9-]{0,63}$`` never reach the file system)
    and SuiteInvalid for the first problem in the file.
    """
    suites_dir = Path(suites_dir)
    if not isinstance(name, str) or not SUITE_NAME.match(name):
        raise SuiteNotFound(str(name), str(suites_dir), list_suites(suites_dir))

    path = suites_dir / f"{name}{SUITE_SUFFIX}"
    if not path.is_file():
        raise SuiteNotFound(name, str(suites_dir), list_suites(suites_dir))

    document = _read_document(path)
    problems = list(_find_problems(document, path))
    if problems:
        raise problems[0]
    return _build_suite(name, document, path)


def lint_suites(suites_dir: Path) -> list[SuiteInvalid]:
    """Return every problem in every suite file of ``suites_dir``; an empty list means all are valid."""
    suites_dir = Path(suites_dir)
    problems: list[SuiteInvalid] = []
    for path in sorted(suites_dir.glob(f"*{SUITE_SUFFIX}")):
        if not SUITE_NAME.match(path.stem):
            problems.append(
                SuiteInvalid(
                    str(path),
                    f"file name {path.name!r} is not a valid suite name; "
                    "use lowercase letters, digits and '-', at most 64 characters",
                )
            )
            continue
        try:
            document = _read_document(path)
        except SuiteInvalid as error:
            problems.append(error)
            continue
        problems.extend(_find_problems(document, path))
    return problems


def _read_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SuiteInvalid(str(path), f"not UTF-8 text: {error}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.YAMLError as error:
        raise SuiteInvalid(str(path), f"not valid YAML: {error}") from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping instead of keeping the last."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found the key {key!r}, which is not text", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@lru_cache(maxsize=8)
def _schema_validator(schema_path: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _find_problems(document: Any, path: Path) -> Iterator[SuiteInvalid]:
    """Yield schema errors first (ordered by check), then the rules a JSON Schema cannot state."""
    schema_path = (path.parent / SCHEMA_FILE).resolve()
    if not schema_path.is_file():
        yield SuiteInvalid(str(path), f"schema {schema_path} is missing; it must sit beside the suite files")
        return

    errors = sorted(_schema_validator(schema_path).iter_errors(document), key=_error_order)
    if errors:
        seen: set[tuple] = set()
        for error in errors:
            problem = _to_suite_invalid(error, document, path)
            key = (problem.check_id, problem.field, problem.problem)
            if key not in seen:
                seen.add(key)
                yield problem
        return

    yield from _find_semantic_problems(document, path)


def _error_order(error: SchemaError) -> tuple:
    location = list(error.absolute_path)
    check_index = location[1] if len(location) >= 2 and location[0] == "checks" else -1
    # Within one check, deeper errors name the field more precisely.
    return (check_index, -len(location), str(location))


def _to_suite_invalid(error: SchemaError, document: Any, path: Path) -> SuiteInvalid:
    location = list(error.absolute_path)
    check_id = None
    if len(location) >= 2 and location[0] == "checks" and isinstance(location[1], int):
        check_id = _check_label(document, location[1])
        field_parts = [str(part) for part in location[2:]]
    else:
        field_parts = [str(part) for part in location]

    extra = _offending_property(error)
    if extra:
        field_parts.append(extra)
    field = ".".join(field_parts) or None
    return SuiteInvalid(str(path), error.message, check_id=check_id, field=field)


def _offending_property(error: SchemaError) -> str | None:
    """Name the property a ``required`` or ``additionalProperties`` error is about."""
    if not isinstance(error.instance, dict):
        return None
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return missing[0] if missing else None
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = [name for name in error.instance if name not in allowed]
        return str(extra[0]) if extra else None
    return None


def _check_label(document: Any, index: int) -> str:
    """Return the check's id, or ``checks[i]`` when it has no usable id."""
    try:
        check_id = document["checks"][index]["id"]
    except (KeyError, IndexError, TypeError):
        check_id = None
    return check_id if isinstance(check_id, str) and check_id else f"checks[{index}]"


def _find_semantic_problems(document: dict, path: Path) -> Iterator[SuiteInvalid]:
    first_index: dict[str, int] = {}
    for index, check in enumerate(document["checks"]):
        check_id = check["id"]
        if check_id in first_index:
            yield SuiteInvalid(
                str(path),
                f"check id {check_id!r} is used by checks {first_index[check_id]} and {index}; "
                "ids must be unique in a suite",
                check_id=check_id,
                field="id",
            )
        else:
            first_index[check_id] = index

        if "\0" in check.get("command", ""):
            yield SuiteInvalid(str(path), "command contains a NUL character", check_id=check_id, field="command")

        for field in _REGEX_FIELDS:
            pattern = check.get("expect", {}).get(field)
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as error:
                yield SuiteInvalid(
                    str(path),
                    f"{pattern!r} is not a valid Python regular expression: {error}",
                    check_id=check_id,
                    field=f"expect.{field}",
                )


def _build_suite(name: str, document: dict, path: Path) -> Suite:
    checks = tuple(
        CheckSpec(
            id=check["id"],
            type=check["type"],
            timeout_seconds=float(check.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
            required=bool(check.get("required", True)),
            params=_freeze({key: value for key, value in check.items() if key not in ("id", "type")}),
        )
        for check in document["checks"]
    )
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Suite(
        name=name,
        description=document["description"],
        checks=checks,
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        path=path,
    )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value
