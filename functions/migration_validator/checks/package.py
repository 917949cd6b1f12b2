"""The ``package`` check: is a package installed, in which version, read with dpkg-query or rpm."""

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, expectation, failed, judge_facts, passed, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

_PROBE = r"""
name=@NAME@
manager=@MANAGER@
found=
tried=
if [ "$manager" != rpm ] && command -v dpkg-query >/dev/null 2>&1; then
    tried=dpkg
    out=$(dpkg-query -W -f='${Status}|${Version}\n' "$name" 2>/dev/null)
    case "$out" in *" installed|"*) found=dpkg ;; esac
    [ -n "$found" ] && printf '%s\n' "$out" | while IFS='|' read -r status version; do
        case "$status" in *" installed") echo "version=$version" ;; esac
    done
fi
if [ -z "$found" ] && [ "$manager" != dpkg ] && command -v rpm >/dev/null 2>&1; then
    tried="$tried rpm"
    if out=$(rpm -q --qf '%{EPOCH}:%{VERSION}-%{RELEASE}\n' "$name" 2>/dev/null); then
        found=rpm
        printf '%s\n' "$out" | while IFS= read -r version; do echo "version=$version"; done
    fi
fi
[ -n "$tried" ] || { echo "error=no package manager to ask: @NEEDED@ is not installed"; exit 0; }
echo "tried=$tried"
echo "manager=$found"
exit 0
"""


def judge_package(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("package", judge=judge_package)
def build_package(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    manager = spec.params.get("manager", "auto")
    needed = {"dpkg": "dpkg-query", "rpm": "rpm"}.get(manager, "neither dpkg-query nor rpm")
    probe = (
        _PROBE.replace("@NAME@", quote(spec.params["name"]))
        .replace("@MANAGER@", quote(manager))
        .replace("@NEEDED@", needed)
    )
    return RemoteCommand(probe, spec.timeout_seconds, settings.probe_capture_bytes)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    expect = expectation(spec)
    manager = facts.first("manager") or ""
    versions = facts.all("version")
    installed = bool(manager)
    expected_present = expect.get("installed", True)
    if not installed:
        message = f"not installed (asked {facts.first('tried', '').strip().replace(' ', ' and ')})"
        return failed(verdicts.NOT_FOUND, message) if expected_present else passed(message + ", as expected")
    summary = f"installed ({manager}), version {', '.join(versions)}"
    if not expected_present:
        return failed(verdicts.VALUE_MISMATCH, f"{summary}, expected it not installed")
    if "version" in expect:
        failures = matchers.evaluate("version", {"version": expect["version"]}, versions, version_scheme=manager)
        if failures:
            return failed(verdicts.VALUE_MISMATCH, "; ".join(failures), versions=", ".join(versions))
    return passed(summary, versions=", ".join(versions))
