"""The ``process`` check: processes on the instance with a given name, read from /proc."""

from migration_validator import verdicts
from migration_validator.checks import matchers
from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, expectation, failed, judge_facts, passed, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# Builtins only for the scan, so it costs no process per /proc entry; one stat for the owners.
_PROBE = r"""
name=@NAME@
pids=
for comm in /proc/[0-9]*/comm; do
    IFS= read -r value 2>/dev/null <"$comm" || continue
    [ "$value" = "$name" ] || continue
    pid=${comm#/proc/}
    pids="$pids /proc/${pid%/comm}"
done
[ -n "$pids" ] && stat -c 'process=%n %U' $pids 2>/dev/null
exit 0
"""


def judge_process(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("process", judge=judge_process)
def build_process(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    return RemoteCommand(_PROBE.replace("@NAME@", quote(spec.params["name"])), spec.timeout_seconds, settings.probe_capture_bytes)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    processes = [line.split(" ", 1) for line in facts.all("process")]
    pids = [path.removeprefix("/proc/") for path, _ in processes]
    users = sorted({user for _, user in processes})
    count = len(processes)
    summary = f"{count} process(es)" + (f", pids {' '.join(pids[:10])}, users {', '.join(users)}" if count else "")

    expect = expectation(spec)
    expected_running = expect.get("running", True)
    if expected_running and not count:
        return failed(verdicts.NOT_FOUND, "no such process is running", count=0)
    if not expected_running and count:
        return failed(verdicts.VALUE_MISMATCH, f"{summary}, expected none", count=count)

    failures = []
    if "count" in expect:
        failures += matchers.evaluate("process count", expect["count"], count)
    if "user" in expect:
        failures += matchers.evaluate("users", expect["user"], users)
    if failures:
        return failed(verdicts.VALUE_MISMATCH, f"{'; '.join(failures)} ({summary})", count=count)
    return passed(summary, count=count)
