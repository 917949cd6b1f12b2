"""Smoke-test suites: YAML files in the suites directory, validated against its JSON Schema.

A suite named ``web-app`` is the file ``<suites_dir>/web-app.yaml``; the schema is
``<suites_dir>/suite.schema.json``, so the directory ships with its own contract. A suite
may ``include`` other suites of the same directory: their checks come first, each
included suite once. Text in a check may refer to instance tags as ``${tag:NAME}`` or
``${tag:NAME:-DEFAULT}``; ``resolve_variables`` fills them from the instance's
``migration-validator:NAME`` tags just before a run.
"""

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError as SchemaError

from migration_validator.errors import SuiteInvalid, SuiteNotFound
from migration_validator.versions import InvalidConstraint, parse_constraint

SCHEMA_FILE = "suite.schema.json"
SUITE_SUFFIX = ".yaml"
SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
DEFAULT_TIMEOUT_SECONDS = 10.0

TAG_PREFIX = "migration-validator:"
_TAG_NAME = r"[A-Za-z0-9_.+=@/-]+"
# "$${tag:" writes a literal "${tag:"; any other "${tag:" must be a whole reference.
TAG_REFERENCE = re.compile(r"\$\$\{tag:|\$\{tag:(" + _TAG_NAME + r")(?::-([^}]*))?\}")
_REFERENCE_START = re.compile(r"(?<!\$)\$\{tag:")

_REGEX_FIELDS = ("stdout_regex", "stderr_regex", "body_regex")
# Keys of a check that are not type-specific parameters and never hold tag references.
_FIXED_FIELDS = ("id", "type", "timeout_seconds", "required", "retry", "description")


@dataclass(frozen=True)
class RetryPolicy:
    """Run a failing check again, up to ``attempts`` runs in all, ``interval_seconds`` apart."""

    attempts: int
    interval_seconds: float


@dataclass(frozen=True)
class CheckSpec:
    """One check as written in a suite; ``params`` contains the type-specific fields, read-only.

    ``source`` is the suite file that defines the check, which differs from the suite's
    own file for an included check.
    """

    id: str
    type: str
    timeout_seconds: float
    required: bool
    params: Mapping[str, Any]
    retry: RetryPolicy | None = None
    source: Path | None = None

    @property
    def attempts(self) -> int:
        return self.retry.attempts if self.retry else 1


@dataclass(frozen=True)
class Suite:
    """A validated suite with its included checks.

    ``content_hash`` is the SHA-256 of the parsed documents of the suite and every suite it
    includes, as canonical JSON, so editing an included suite changes it too.
    ``secret_tags`` names the tags whose values are redacted from results.
    """

    name: str
    description: str
    checks: tuple[CheckSpec, ...]
    content_hash: str
    path: Path
    includes: tuple[str, ...] = ()
    secret_tags: tuple[str, ...] = ()


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

    parts, problems = _collect(name, suites_dir)
    if problems:
        raise problems[0]
    return _build_suite(name, parts)


def lint_suites(suites_dir: Path) -> list[SuiteInvalid]:
    """Return every problem in every suite file of ``suites_dir``; an empty list means all are valid."""
    suites_dir = Path(suites_dir)
    problems: list[SuiteInvalid] = []
    seen: set[tuple] = set()
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
        _, found = _collect(path.stem, suites_dir)
        for problem in found:
            key = (problem.file, problem.check_id, problem.field, problem.problem)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return problems


@dataclass(frozen=True)
class _Part:
    """One suite file of a suite with its includes: the name, the file and its parsed document."""

    name: str
    path: Path
    document: dict


def _collect(name: str, suites_dir: Path) -> tuple[list[_Part], list[SuiteInvalid]]:
    """Read suite ``name`` and what it includes, depth first, each file once.

    Returns the parts in check order (included suites first) and every problem found.
    """
    parts: list[_Part] = []
    problems: list[SuiteInvalid] = []
    done: set[str] = set()

    def visit(current: str, chain: tuple[str, ...]) -> None:
        path = suites_dir / f"{current}{SUITE_SUFFIX}"
        try:
            document = _read_document(path)
        except SuiteInvalid as error:
            problems.append(error)
            return
        found = list(_find_problems(document, path))
        problems.extend(found)
        if found:
            return
        for included in _includes(document):
            if included in chain or included == current:
                cycle = " -> ".join((*chain, current, included))
                problems.append(SuiteInvalid(str(path), f"include cycle {cycle}; remove one of these includes", field="include"))
            elif included in done:
                continue
            elif not (suites_dir / f"{included}{SUITE_SUFFIX}").is_file():
                available = ", ".join(list_suites(suites_dir)) or "none"
                problems.append(
                    SuiteInvalid(str(path), f"includes {included!r}, which is not a suite in {suites_dir}; available: {available}", field="include")
                )
            else:
                visit(included, (*chain, current))
        done.add(current)
        parts.append(_Part(current, path, document))

    visit(name, ())
    if not problems:
        problems.extend(_find_duplicate_ids(parts))
    return parts, problems


def _includes(document: dict) -> list[str]:
    included = document.get("include", [])
    return [included] if isinstance(included, str) else list(included)


def _find_duplicate_ids(parts: list[_Part]) -> Iterator[SuiteInvalid]:
    defined_in: dict[str, Path] = {}
    for part in parts:
        for check in part.document.get("checks", []):
            first = defined_in.setdefault(check["id"], part.path)
            if first != part.path:
                yield SuiteInvalid(
                    str(part.path),
                    f"check id {check['id']!r} is also defined in {first.name}, which this suite includes; "
                    "rename one of them",
                    check_id=check["id"],
                    field="id",
                )


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
    for index, check in enumerate(document.get("checks", [])):
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

        for field, value in _walk(check):
            yield from _value_problems(path, check_id, field, value)

        bundle = check.get("tls", {}).get("ca_bundle") if isinstance(check.get("tls"), Mapping) else None
        if bundle and not _inside(path.parent, bundle):
            yield SuiteInvalid(
                str(path),
                f"CA bundle {bundle!r} is not a file inside the suites directory {path.parent}; put the PEM file there",
                check_id=check_id,
                field="tls.ca_bundle",
            )


def _inside(directory: Path, relative: str) -> bool:
    resolved = (directory / relative).resolve()
    return resolved.is_file() and resolved.is_relative_to(directory.resolve())


def _walk(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted field, value) for every leaf of a check, list items included."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _value_problems(path: Path, check_id: str, field: str, value: Any) -> Iterator[SuiteInvalid]:
    if not isinstance(value, str):
        return
    leaf = field.rsplit(".", 1)[-1].split("[", 1)[0]
    if leaf in _REGEX_FIELDS or leaf in ("regex", "not_regex"):
        try:
            re.compile(value)
        except re.error as error:
            yield SuiteInvalid(str(path), f"{value!r} is not a valid Python regular expression: {error}", check_id=check_id, field=field)
    if leaf == "version" and "${tag:" not in value:
        try:
            parse_constraint(value)
        except InvalidConstraint as error:
            yield SuiteInvalid(str(path), str(error), check_id=check_id, field=field)
    if _REFERENCE_START.search(TAG_REFERENCE.sub("", value)):
        yield SuiteInvalid(
            str(path),
            f"{value!r} has a tag reference that is not ${{tag:NAME}} or ${{tag:NAME:-DEFAULT}}; "
            "NAME may hold letters, digits and _ . + = @ / -, and $${tag: writes a literal ${tag:",
            check_id=check_id,
            field=field,
        )


def _build_suite(name: str, parts: list[_Part]) -> Suite:
    checks = tuple(_build_check(check, part.path) for part in parts for check in part.document.get("checks", []))
    root = parts[-1]
    hashed: Any = root.document
    if len(parts) > 1:
        hashed = {"suite": root.document, "includes": [[part.name, part.document] for part in parts[:-1]]}
    canonical = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    secret_tags = tuple(dict.fromkeys(tag for part in parts for tag in part.document.get("secrets", [])))
    return Suite(
        name=name,
        description=root.document["description"],
        checks=checks,
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        path=root.path,
        includes=tuple(part.name for part in parts[:-1]),
        secret_tags=secret_tags,
    )


def _build_check(check: Mapping[str, Any], source: Path) -> CheckSpec:
    retry = check.get("retry")
    return CheckSpec(
        id=check["id"],
        type=check["type"],
        timeout_seconds=float(check.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        required=bool(check.get("required", True)),
        params=_freeze({key: value for key, value in check.items() if key not in ("id", "type")}),
        retry=RetryPolicy(int(retry["attempts"]), float(retry.get("interval_seconds", 1))) if retry else None,
        source=source,
    )


def resolve_variables(suite: Suite, tags: Mapping[str, str], instance_id: str) -> tuple[Suite, tuple[str, ...]]:
    """Fill every ``${tag:NAME}`` reference from the instance's ``migration-validator:NAME`` tag.

    Returns the suite with the values filled in and the values of the tags that the suite
    lists under ``secrets``, for redaction. Raises SuiteInvalid, naming the check and the
    field, when a tag is missing and its reference has no default, or when a filled-in
    value breaks the schema (a port tag that is not a number, say).
    """
    checks = tuple(_resolve_check(spec, tags, instance_id) for spec in suite.checks)
    secrets = tuple(tags[TAG_PREFIX + name] for name in suite.secret_tags if tags.get(TAG_PREFIX + name))
    return replace(suite, checks=checks), secrets


def _resolve_check(spec: CheckSpec, tags: Mapping[str, str], instance_id: str) -> CheckSpec:
    source = str(spec.source or "")
    whole_references: list[tuple] = []

    def fill(text: str, location: tuple) -> str:
        def substitute(match: re.Match) -> str:
            if match.group(1) is None:
                return "${tag:"
            value = tags.get(TAG_PREFIX + match.group(1))
            if value is not None:
                return value
            if match.group(2) is not None:
                return match.group(2)
            raise SuiteInvalid(
                source,
                f"tag {TAG_PREFIX}{match.group(1)} is not set on instance {instance_id}, and the reference has no default; "
                f"set the tag or write ${{tag:{match.group(1)}:-DEFAULT}}",
                check_id=spec.id,
                field=_dotted(location),
            )

        whole = TAG_REFERENCE.fullmatch(text)
        if whole and whole.group(1) is not None:
            whole_references.append(location)
        return TAG_REFERENCE.sub(substitute, text)

    def walk(value: Any, location: tuple) -> Any:
        if isinstance(value, Mapping):
            return {key: walk(item, (*location, key)) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(item, (*location, index)) for index, item in enumerate(value)]
        if isinstance(value, str) and "${tag:" in value:
            return fill(value, location)
        return value

    raw = _thaw(spec.params)
    fixed = {key: raw.pop(key) for key in _FIXED_FIELDS if key in raw}
    resolved = walk(raw, ())
    if resolved == raw:
        return spec
    check = {"id": spec.id, "type": spec.type, **fixed, **resolved}
    _validate_resolved(check, whole_references, spec)
    return replace(spec, params=_freeze({key: value for key, value in check.items() if key not in ("id", "type")}))


def _validate_resolved(check: dict, whole_references: list[tuple], spec: CheckSpec) -> None:
    """Validate a check after filling in tags; a whole-value reference may become a number or boolean."""
    validator = _schema_validator((Path(spec.source).parent / SCHEMA_FILE).resolve())
    document = {"description": "resolved", "checks": [check]}
    for location in whole_references:
        if any(tuple(error.absolute_path)[2:] == location for error in validator.iter_errors(document)):
            _set_at(check, location, _scalar(_get_at(check, location)))
    errors = sorted(validator.iter_errors(document), key=_error_order)
    if errors:
        problem = _to_suite_invalid(errors[0], document, Path(spec.source or ""))
        raise SuiteInvalid(
            problem.file,
            f"after filling in instance tags: {problem.problem}",
            check_id=spec.id,
            field=problem.field,
        )


def _scalar(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text.strip())
        except ValueError:
            continue
    return text


def _get_at(value: Any, location: tuple) -> Any:
    for key in location:
        value = value[key]
    return value


def _set_at(value: Any, location: tuple, item: Any) -> None:
    for key in location[:-1]:
        value = value[key]
    value[location[-1]] = item


def _dotted(location: tuple) -> str:
    text = ""
    for key in location:
        if isinstance(key, int):
            text += f"[{key}]"
        elif text:
            text += f".{key}"
        else:
            text = str(key)
    return text


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value
