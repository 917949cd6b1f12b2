"""The ``file`` check: existence, type, mode, ownership, size, link target, content and SHA-256 of a path."""

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, expectation, failed, judge_facts, passed, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# GNU stat %F names, to the names a suite uses.
FILE_TYPES = {
    "regular file": "file",
    "regular empty file": "file",
    "directory": "directory",
    "symbolic link": "symlink",
    "socket": "socket",
    "fifo": "fifo",
    "block special file": "block-device",
    "character special file": "character-device",
}

_PROBE_HEAD = r"""
p=@PATH@
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo exists=false; exit 0; fi
echo exists=true
stat --printf='type=%F\nmode=%a\nowner=%U\ngroup=%G\nsize=%s\n' -- "$p" || { echo "error=stat failed on the path"; exit 0; }
"""
_PROBE_LINK = r"""[ -L "$p" ] && printf 'link_target=%s\n' "$(readlink -- "$p")"
"""
_PROBE_SHA256 = r"""[ -f "$p" ] && sha256sum -- "$p" | { read -r sum rest; echo "sha256=$sum"; }
"""
_PROBE_CONTENT = r"""[ -f "$p" ] && { printf '\n--content--\n'; head -c @CAPTURE@ -- "$p"; }
"""


def judge_file(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("file", judge=judge_file)
def build_file(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    expect = expectation(spec)
    probe = _PROBE_HEAD.replace("@PATH@", quote(spec.params["path"]))
    capture = settings.probe_capture_bytes
    if "link_target" in expect:
        probe += _PROBE_LINK
    if "sha256" in expect:
        probe += _PROBE_SHA256
    if "content" in expect:
        probe += _PROBE_CONTENT.replace("@CAPTURE@", str(settings.content_capture_bytes))
        capture += settings.content_capture_bytes
    return RemoteCommand(probe + "exit 0\n", spec.timeout_seconds, capture)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    expect = expectation(spec)
    exists = facts.first("exists") == "true"
    expected_present = expect.get("exists", True)
    if not exists:
        return failed(verdicts.NOT_FOUND, "does not exist") if expected_present else passed("does not exist, as expected")
    if not expected_present:
        return failed(verdicts.VALUE_MISMATCH, "exists, expected it not to")

    kind = FILE_TYPES.get(facts.first("type", ""), facts.first("type"))
    mode = facts.first("mode", "")
    summary = f"{kind}, mode {mode.zfill(4)}, owner {facts.first('owner')}:{facts.first('group')}, {facts.first('size')} bytes"
    failures = []
    if "type" in expect and expect["type"] != kind:
        failures.append(f"is a {kind}, expected a {expect['type']}")
    if "mode" in expect and int(expect["mode"], 8) != int(mode or "0", 8):
        failures.append(f"mode is {mode.zfill(4)}, expected {expect['mode'].zfill(4)}")
    for key in ("owner", "group", "size", "link_target"):
        if key in expect:
            failures += matchers.evaluate(key.replace("_", " "), expect[key], facts.first(key))
    if "sha256" in expect and expect["sha256"].lower() != (facts.first("sha256") or "").lower():
        failures.append(f"SHA-256 is {facts.first('sha256') or 'not readable'}, expected {expect['sha256'].lower()}")
    if "content" in expect:
        content = facts.content.decode("utf-8", errors="replace")
        content_failures = matchers.evaluate("content", expect["content"], content)
        if content_failures and not facts.content_complete:
            return failed(verdicts.OUTPUT_CAPPED, f"{'; '.join(content_failures)} in its first {len(facts.content)} bytes ({summary})")
        failures += content_failures
    if failures:
        return failed(verdicts.VALUE_MISMATCH, f"{'; '.join(failures)} ({summary})")
    return passed(summary)
