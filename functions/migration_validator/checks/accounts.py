"""The ``user`` and ``group`` checks: accounts as the instance's name service (getent) returns them."""

from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, judge_facts, match_all, presence, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

_USER_PROBE = r"""
name=@NAME@
command -v getent >/dev/null 2>&1 || { echo "error=getent is not installed"; exit 0; }
if entry=$(getent passwd "$name"); then
    printf 'passwd=%s\n' "$entry"
    printf 'groups=%s\n' "$(id -Gn "$name" 2>/dev/null)"
fi
exit 0
"""

_GROUP_PROBE = r"""
name=@NAME@
command -v getent >/dev/null 2>&1 || { echo "error=getent is not installed"; exit 0; }
entry=$(getent group "$name") && printf 'group=%s\n' "$entry"
exit 0
"""

_USER_FIELDS = {"uid": "uid", "gid": "gid", "home": "home", "shell": "shell", "groups": "groups"}
_GROUP_FIELDS = {"gid": "gid", "members": "members"}


def judge_user(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess_user(spec, facts))


def judge_group(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess_group(spec, facts))


@target_check_type("user", judge=judge_user)
def build_user(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(_USER_PROBE.replace("@NAME@", quote(spec.params["name"])), spec.timeout_seconds, settings.probe_capture_bytes)


@target_check_type("group", judge=judge_group)
def build_group(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(_GROUP_PROBE.replace("@NAME@", quote(spec.params["name"])), spec.timeout_seconds, settings.probe_capture_bytes)


def _assess_user(spec: CheckSpec, facts: Facts) -> Assessment:
    entry = facts.first("passwd")
    fields = entry.split(":") if entry else []
    actual = {}
    if len(fields) >= 7:
        actual = {"uid": fields[2], "gid": fields[3], "home": fields[5], "shell": fields[6], "groups": (facts.first("groups") or "").split()}
    summary = f"uid {actual.get('uid')}, gid {actual.get('gid')}, home {actual.get('home')}, shell {actual.get('shell')}"
    return presence(spec, "exists", bool(actual), "no such user", summary, lambda: match_all(spec, actual, _USER_FIELDS))


def _assess_group(spec: CheckSpec, facts: Facts) -> Assessment:
    entry = facts.first("group")
    fields = entry.split(":") if entry else []
    actual = {}
    if len(fields) >= 4:
        actual = {"gid": fields[2], "members": [member for member in fields[3].split(",") if member]}
    summary = f"gid {actual.get('gid')}, members {', '.join(actual.get('members', [])) or 'none'}"
    return presence(spec, "exists", bool(actual), "no such group", summary, lambda: match_all(spec, actual, _GROUP_FIELDS))
