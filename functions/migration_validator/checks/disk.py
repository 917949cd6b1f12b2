"""The ``disk`` check: free space and free inodes of the file system holding a path (df -P)."""

import re

from migration_validator import verdicts
from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, failed, judge_facts, match_all, passed, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

_PROBE = r"""
p=@PATH@
[ -e "$p" ] || { echo exists=false; exit 0; }
df -Pk "$p" | { read -r header; while IFS= read -r line; do echo "blocks=$line"; done; }
df -Pi "$p" 2>/dev/null | { read -r header; while IFS= read -r line; do echo "inodes=$line"; done; }
exit 0
"""
# Filesystem, total, used, available, use%, mount point; the file system name may hold spaces.
_DF_LINE = re.compile(r"^(.*?)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+%|-)\s+(/.*)$")
_LABELS = {"free_percent": "free space in percent", "free_mib": "free space in MiB", "inodes_free_percent": "free inodes in percent"}


def judge_disk(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("disk", judge=judge_disk)
def build_disk(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(_PROBE.replace("@PATH@", quote(spec.params["path"])), spec.timeout_seconds, settings.probe_capture_bytes)


def _free_percent(used: str, available: str) -> float | None:
    """Free share as df computes use: available / (used + available), so root's reserve counts as used."""
    if not (used.isdigit() and available.isdigit()) or int(used) + int(available) == 0:
        return None
    return round(100 * int(available) / (int(used) + int(available)), 1)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    if facts.first("exists") == "false":
        return failed(verdicts.NOT_FOUND, "the path does not exist")
    blocks = _DF_LINE.match(facts.first("blocks", ""))
    if not blocks:
        return failed(verdicts.PROBE_FAILED, f"df -Pk printed no usable line: {facts.first('blocks')!r}")
    inodes = _DF_LINE.match(facts.first("inodes", ""))

    actual = {
        "free_percent": _free_percent(blocks.group(3), blocks.group(4)),
        "free_mib": int(blocks.group(4)) // 1024,
        "inodes_free_percent": _free_percent(inodes.group(3), inodes.group(4)) if inodes else None,
    }
    summary = f"{blocks.group(6)} on {blocks.group(1)}: {actual['free_percent']}% free ({actual['free_mib']} MiB)"
    if actual["inodes_free_percent"] is None:
        # btrfs and some network file systems report no inode counts, so there is nothing to run out of.
        summary += ", no inode counts"
        fields = {key: label for key, label in _LABELS.items() if key != "inodes_free_percent"}
    else:
        summary += f", {actual['inodes_free_percent']}% inodes free"
        fields = _LABELS
    failures = match_all(spec, actual, fields)
    details = {"free_mib": actual["free_mib"]}
    if failures:
        return failed(verdicts.VALUE_MISMATCH, f"{'; '.join(failures)} ({summary})", **details)
    return passed(summary, **details)
