"""The ``dns`` check: does a name resolve on the instance, and to which addresses (getent ahosts)."""

from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, judge_facts, match_all, presence, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

_DATABASES = {"any": "ahosts", "ipv4": "ahostsv4", "ipv6": "ahostsv6"}

_PROBE = r"""
name=@NAME@
command -v getent >/dev/null 2>&1 || { echo "error=getent is not installed"; exit 0; }
out=$(getent @DATABASE@ "$name")
echo "status=$?"
printf '%s\n' "$out" | while read -r address kind rest; do
    [ -n "$address" ] && echo "address=$address"
done
exit 0
"""


def judge_dns(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("dns", judge=judge_dns)
def build_dns(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    database = _DATABASES[spec.params.get("family", "any")]
    probe = _PROBE.replace("@NAME@", quote(spec.params["name"])).replace("@DATABASE@", database)
    return RemoteCommand(probe, spec.timeout_seconds, settings.probe_capture_bytes)


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    # getent lists each address once per socket type; keep the first of each.
    addresses = list(dict.fromkeys(facts.all("address")))
    resolved = facts.first("status") == "0" and bool(addresses)
    summary = f"resolves to {', '.join(addresses)}"
    return presence(
        spec, "resolves", resolved, f"does not resolve (getent exit status {facts.first('status')})", summary,
        lambda: match_all(spec, {"addresses": addresses}, {"addresses": "addresses"}),
    )
