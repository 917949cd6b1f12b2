"""The ``service`` check: is a service running and enabled, under systemd or SysV init scripts."""

from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, expectation, failed, judge_facts, passed, quote
from migration_validator import verdicts
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# Unit file states for which `systemctl is-enabled` exits 0 (systemd 252).
SYSTEMD_ENABLED_STATES = frozenset({"enabled", "enabled-runtime", "static", "alias", "indirect", "generated"})

_PROBE = r"""
name=@NAME@
manager=@MANAGER@
if [ "$manager" = systemd ] || { [ "$manager" = auto ] && [ -d /run/systemd/system ]; }; then
    command -v systemctl >/dev/null 2>&1 || { echo "error=systemctl is not installed"; exit 0; }
    echo manager=systemd
    if out=$(systemctl show --property=LoadState,ActiveState,SubState,UnitFileState -- "$name" 2>&1); then
        printf '%s\n' "$out"
    else
        printf 'error=systemctl show failed: %s\n' "$out"
    fi
else
    echo manager=sysv
    script=
    for dir in /etc/init.d /etc/rc.d/init.d; do
        [ -x "$dir/$name" ] && { script=$dir/$name; break; }
    done
    echo "script=$script"
    if [ -n "$script" ]; then
        if command -v service >/dev/null 2>&1; then service "$name" status >/dev/null 2>&1; else "$script" status >/dev/null 2>&1; fi
        echo "status=$?"
    fi
    for link in /etc/rc[2345].d/S[0-9][0-9]"$name" /etc/rc.d/rc[2345].d/S[0-9][0-9]"$name"; do
        [ -e "$link" ] && echo "start_link=$link"
    done
fi
exit 0
"""


def judge_service(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("service", judge=judge_service)
def build_service(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    probe = _PROBE.replace("@NAME@", quote(spec.params["name"])).replace("@MANAGER@", quote(spec.params.get("manager", "auto")))
    return RemoteCommand(probe, spec.timeout_seconds, settings.probe_capture_bytes)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    if facts.first("manager") == "systemd":
        exists = facts.first("LoadState") not in (None, "not-found")
        running = facts.first("ActiveState") == "active"
        unit_file_state = facts.first("UnitFileState") or "none"
        enabled = unit_file_state in SYSTEMD_ENABLED_STATES
        state = f"systemd ActiveState {facts.first('ActiveState')} ({facts.first('SubState')}), UnitFileState {unit_file_state}"
    else:
        exists = bool(facts.first("script"))
        status = facts.first("status")
        running = status == "0"
        enabled = bool(facts.all("start_link"))
        state = f"SysV script {facts.first('script') or 'missing'}, status exit {status}, " + (
            f"start link {facts.first('start_link')}" if enabled else "no start link in runlevels 2-5"
        )

    expect = dict(expectation(spec))
    if "running" not in expect and "enabled" not in expect:
        expect["running"] = True
    details = {"manager": facts.first("manager"), "running": running, "enabled": enabled}
    if not exists and (expect.get("running") or expect.get("enabled")):
        return failed(verdicts.NOT_FOUND, f"not found ({state})", **details)

    failures = []
    for key, actual in (("running", running), ("enabled", enabled)):
        if key in expect and expect[key] != actual:
            failures.append(f"{'is' if actual else 'is not'} {key}, expected {'' if expect[key] else 'not '}{key}")
    if failures:
        return failed(verdicts.VALUE_MISMATCH, f"{'; '.join(failures)} ({state})", **details)
    return passed(state, **details)
