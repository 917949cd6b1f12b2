"""The ``mount`` check: the file system mounted at a path, as /proc/mounts lists it."""

import re

from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, judge_facts, match_all, presence, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# Builtins only: /proc/mounts is short, so a read loop costs less than starting awk.
_PROBE = r"""
p=@PATH@
found=
while read -r source target fstype options rest; do
    [ "$target" = "$p" ] && found="$source $fstype $options"
done </proc/mounts
if [ -n "$found" ]; then
    set -- $found
    printf 'source=%s\nfilesystem=%s\noptions=%s\n' "$1" "$2" "$3"
fi
exit 0
"""
_FIELDS = {"filesystem": "file system type", "source": "source", "options": "mount options"}


def judge_mount(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("mount", judge=judge_mount)
def build_mount(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(_PROBE.replace("@PATH@", quote(_mounts_encoding(spec.params["path"]))), spec.timeout_seconds, settings.probe_capture_bytes)


def _mounts_encoding(path: str) -> str:
    """Write a mount point as /proc/mounts does: octal escapes for space, tab, newline and backslash."""
    path = path.rstrip("/") or "/"
    return "".join(f"\\{ord(character):03o}" if character in " \t\n\\" else character for character in path)


def _mounts_decoding(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), text)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    actual = {}
    if facts.first("filesystem"):
        actual = {
            "filesystem": facts.first("filesystem"),
            "source": _mounts_decoding(facts.first("source", "")),
            "options": facts.first("options", "").split(","),
        }
    summary = f"{actual.get('source')} ({actual.get('filesystem')}, {','.join(actual.get('options', []))})"
    return presence(spec, "mounted", bool(actual), "nothing is mounted there", summary, lambda: match_all(spec, actual, _FIELDS))
