"""`migration-validator check` and `migration-validator suites lint`: suites run and checked outside the workflow.

``check`` runs a suite straight against a host the operator can reach, such as the source
server before cutover, with the same engine and address guard as the RunSmokeTests step.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import hmac
import json
import socket
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import TextIO

import yaml

from migration_validator.checks import CHECK_TYPES, PrivateKeyUnreadable, RunSettings, require_time_budget, run_suite
from migration_validator.checks.addresses import check_address
from migration_validator.errors import SuiteInvalid, SuiteNotFound, TargetNotReady, TargetRejected
from migration_validator.suites import TAG_PREFIX, lint_suites, list_suites, load_suite
from migration_validator.targets import Target
from migration_validator.verdicts import CheckStatus, SuiteRun, Verdict

from .paths import TEMPLATE

# Exit statuses of `check`; 78 is EX_CONFIG from sysexits.h, as goss uses it for a bad suite.
EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_UNREACHABLE = 2
EXIT_ERROR = 3
EXIT_SUITE_INVALID = 78

DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
SMOKE_TESTS_FUNCTION = "RunSmokeTestsFunction"


class CheckSetupError(Exception):
    """The check cannot start: a missing key, an unknown host key or an unusable option value."""


# --- check ----------------------------------------------------------------------------------


def run_check(arguments: argparse.Namespace) -> int:
    try:
        suite = load_suite(arguments.suite, arguments.suites_dir)
    except (SuiteInvalid, SuiteNotFound) as error:
        print(f"migration-validator check: {error}", file=sys.stderr)
        return EXIT_SUITE_INVALID

    try:
        target = _target(arguments)
        private_key = _private_key(arguments.key)
        if private_key is None and any(CHECK_TYPES[spec.type].needs_ssh for spec in suite.checks):
            raise CheckSetupError(f"suite {suite.name} runs checks over SSH; pass --key FILE (no ~/.ssh/{', ~/.ssh/'.join(DEFAULT_KEYS)} found)")
        run = run_suite(suite, target, private_key, trust_on_first_use=arguments.trust_on_first_use)
    except SuiteInvalid as error:
        print(f"migration-validator check: {error}", file=sys.stderr)
        return EXIT_SUITE_INVALID
    except TargetNotReady as error:
        run = SuiteRun(verdict=Verdict.UNREACHABLE, reason=error.reason)
        print(f"migration-validator check: {error}", file=sys.stderr)
    except (CheckSetupError, TargetRejected, PrivateKeyUnreadable, ValueError) as error:
        print(f"migration-validator check: {error}", file=sys.stderr)
        return EXIT_ERROR

    _write(arguments.output, lambda stream: FORMATTERS[arguments.format](run, suite.name, arguments.host, stream))
    if run.verdict == Verdict.PASSED:
        return EXIT_PASSED
    return EXIT_UNREACHABLE if run.verdict == Verdict.UNREACHABLE else EXIT_FAILED


def _target(arguments: argparse.Namespace) -> Target:
    if not 0 < arguments.port < 65536:
        raise CheckSetupError(f"--port {arguments.port} is not a TCP port; use 1 to 65535")
    address = _resolve(arguments.host, arguments.port)
    expected_host_key = arguments.host_key
    if not expected_host_key and not arguments.trust_on_first_use:
        known_hosts = arguments.known_hosts or Path.home() / ".ssh" / "known_hosts"
        expected_host_key = known_host_fingerprints(known_hosts, arguments.host, address, arguments.port)
    tags = {}
    for item in arguments.tag:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise CheckSetupError(f"--tag {item!r} is not NAME=VALUE")
        tags[TAG_PREFIX + name.removeprefix(TAG_PREFIX)] = value
    return Target(
        instance_id=arguments.host,
        address=address,
        ssh_user=arguments.user,
        ssh_port=arguments.port,
        expected_host_key=expected_host_key,
        tags=tags,
    )


def _resolve(host: str, port: int) -> str:
    """Return the host's first address, after the same address guard the workflow applies."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise CheckSetupError(f"host {host!r} cannot be resolved: {error.strerror}") from None
    address = infos[0][4][0]
    check_address(address)
    return address


def _private_key(path: Path | None) -> str | None:
    candidates = [path] if path else [Path.home() / ".ssh" / name for name in DEFAULT_KEYS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8", errors="replace")
    if path:
        raise CheckSetupError(f"key file {path} not found")
    return None


def known_host_fingerprints(known_hosts: Path, host: str, address: str, port: int) -> str:
    """Return the SHA256 fingerprints of the host's keys in a known_hosts file, separated by spaces.

    Matches plain, wildcard and hashed (``|1|salt|hash``) host entries, for the name and the
    address, as ``[host]:port`` when the port is not 22. Raises CheckSetupError when none matches.
    """
    if not known_hosts.is_file():
        raise CheckSetupError(
            f"known_hosts file {known_hosts} not found; pass --known-hosts FILE, --host-key SHA256:... or --trust-on-first-use"
        )
    names = {host, address} if port == 22 else {f"[{host}]:{port}", f"[{address}]:{port}"}
    fingerprints = []
    for line in known_hosts.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[0].startswith("@"):
            continue
        if any(_host_field_matches(fields[0], name) for name in names):
            fingerprints.append(_fingerprint(fields[2]))
    if not fingerprints:
        raise CheckSetupError(
            f"{known_hosts} has no key for {' or '.join(sorted(names))}; add it (ssh-keyscan) or pass --host-key or --trust-on-first-use"
        )
    return " ".join(dict.fromkeys(fingerprints))


def _host_field_matches(field: str, name: str) -> bool:
    if field.startswith("|1|"):
        _, _, salt, digest = field.split("|", 3)
        expected = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(base64.b64encode(expected).decode(), digest)
    matched = False
    for pattern in field.split(","):
        if pattern.startswith("!") and fnmatch.fnmatchcase(name, pattern[1:]):
            return False
        matched = matched or fnmatch.fnmatchcase(name, pattern)
    return matched


def _fingerprint(key_base64: str) -> str:
    digest = hashlib.sha256(base64.b64decode(key_base64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --- output ---------------------------------------------------------------------------------


def _write(path: Path | None, render) -> None:
    if path is None:
        render(sys.stdout)
        return
    with path.open("w", encoding="utf-8") as stream:
        render(stream)


def format_text(run: SuiteRun, suite: str, host: str, stream: TextIO) -> None:
    width = max((len(check.check_id) for check in run.checks), default=0)
    for check in run.checks:
        attempts = f" after {check.attempts} attempts" if check.attempts > 1 else ""
        stream.write(f"{check.status.value:<8} {check.check_id:<{width}} {check.duration_ms:>6} ms  {check.reason}: {check.message}{attempts}\n")
    passed = sum(check.status == CheckStatus.PASSED for check in run.checks)
    stream.write(
        f"verdict: {run.verdict.value} ({run.reason}); suite {suite} on {host}: {passed} of {len(run.checks)} checks passed "
        f"in {run.duration_ms / 1000:.2f} s"
    )
    if run.host_key_fingerprint:
        trusted = ", trusted on first use" if run.host_key_trusted_on_first_use else ""
        stream.write(f"; host key {run.host_key_fingerprint}{trusted}")
    stream.write("\n")


def format_json(run: SuiteRun, suite: str, host: str, stream: TextIO) -> None:
    document = {
        "suite": suite,
        "host": host,
        "verdict": run.verdict.value,
        "reason": run.reason,
        "duration_ms": run.duration_ms,
        "host_key_fingerprint": run.host_key_fingerprint,
        "host_key_trusted_on_first_use": run.host_key_trusted_on_first_use,
        "checks": [check.to_item() for check in run.checks],
    }
    json.dump(document, stream, indent=2)
    stream.write("\n")


def format_junit(run: SuiteRun, suite: str, host: str, stream: TextIO) -> None:
    """Write JUnit XML: one test case per check; FAILED is a failure, ERROR an error, WARNING passes with its message."""
    counts = {status: sum(check.status == status for check in run.checks) for status in CheckStatus}
    suites = ElementTree.Element("testsuites")
    testsuite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=suite,
        hostname=host,
        tests=str(len(run.checks)),
        failures=str(counts[CheckStatus.FAILED]),
        errors=str(counts[CheckStatus.ERROR] + (run.verdict == Verdict.UNREACHABLE)),
        time=f"{run.duration_ms / 1000:.3f}",
    )
    if run.verdict == Verdict.UNREACHABLE:
        case = ElementTree.SubElement(testsuite, "testcase", classname=suite, name="connection", time="0")
        ElementTree.SubElement(case, "error", message=run.reason, type=run.reason).text = f"{host} is unreachable ({run.reason})"
    for check in run.checks:
        case = ElementTree.SubElement(testsuite, "testcase", classname=suite, name=check.check_id, time=f"{check.duration_ms / 1000:.3f}")
        if check.status in (CheckStatus.FAILED, CheckStatus.ERROR):
            kind = "failure" if check.status == CheckStatus.FAILED else "error"
            ElementTree.SubElement(case, kind, message=check.message, type=check.reason).text = check.message
        elif check.status == CheckStatus.WARNING:
            ElementTree.SubElement(case, "system-err").text = f"WARNING {check.reason}: {check.message}"
        if check.stdout:
            ElementTree.SubElement(case, "system-out").text = check.stdout
    ElementTree.indent(suites)
    stream.write(ElementTree.tostring(suites, encoding="unicode", xml_declaration=True))
    stream.write("\n")


FORMATTERS = {"text": format_text, "json": format_json, "junit": format_junit}


# --- suites lint ----------------------------------------------------------------------------


def run_suites_lint(arguments: argparse.Namespace) -> int:
    directory: Path = arguments.directory
    if not directory.is_dir():
        print(f"migration-validator suites lint: {directory} is not a directory", file=sys.stderr)
        return EXIT_SUITE_INVALID
    try:
        limit = arguments.time_limit if arguments.time_limit is not None else function_timeout(TEMPLATE, SMOKE_TESTS_FUNCTION)
    except CheckSetupError as error:
        print(f"migration-validator suites lint: {error}", file=sys.stderr)
        return EXIT_ERROR

    problems = lint_suites(directory)
    broken = {Path(problem.file).stem for problem in problems}
    names = list_suites(directory)
    for name in names:
        if name in broken:
            continue
        try:
            require_time_budget(load_suite(name, directory), limit, RunSettings())
        except SuiteInvalid as error:
            problems.append(error)
        except SuiteNotFound:
            continue

    for problem in problems:
        print(problem)
    print(f"{len(names)} suite(s) in {directory}, {len(problems)} problem(s); time limit {limit:g} s")
    return EXIT_SUITE_INVALID if problems else EXIT_PASSED


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short forms (!Ref, !If, ...) as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def function_timeout(template: Path, logical_id: str) -> float:
    """Return a function's Timeout in seconds from the SAM template."""
    try:
        document = yaml.load(template.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader
        return float(document["Resources"][logical_id]["Properties"]["Timeout"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise CheckSetupError(f"cannot read the Timeout of {logical_id} from {template} ({error}); pass --time-limit SECONDS") from None
