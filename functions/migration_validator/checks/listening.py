"""The ``listening`` check: sockets listening on a local port, read with ss, else netstat, else /proc/net."""

import ipaddress

from migration_validator.checks.base import RunContext, RunSettings, target_check_type
from migration_validator.checks.command_runner import RemoteCommand, RunnerRecord
from migration_validator.checks.probe import Assessment, Facts, judge_facts, match_all, presence, quote
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult

# /proc/net socket states: 0A is TCP LISTEN, 07 is TCP_CLOSE, which a bound UDP socket shows.
_PROC_STATES = {"tcp": "0A", "udp": "07"}

_PROBE = r"""
port=@PORT@
protocol=@PROTOCOL@
if command -v ss >/dev/null 2>&1; then
    echo tool=ss
    ss -ln@FLAG@ "sport = :$port" 2>/dev/null | while read -r state receive send local rest; do
        echo "socket=$local"
    done
elif command -v netstat >/dev/null 2>&1; then
    echo tool=netstat
    netstat -ln@FLAG@ 2>/dev/null | while read -r proto receive send local rest; do
        echo "socket=$local"
    done
else
    echo tool=proc
    for table in /proc/net/"$protocol" /proc/net/"$protocol"6; do
        [ -r "$table" ] || continue
        while read -r slot local remote state rest; do
            case "$local:$state" in *:@HEXPORT@:@STATE@) echo "proc=$local" ;; esac
        done <"$table"
    done
fi
exit 0
"""


def judge_listening(spec: CheckSpec, record: RunnerRecord, context: RunContext) -> CheckResult:
    return judge_facts(spec, record, context, lambda facts: _assess(spec, facts))


@target_check_type("listening", judge=judge_listening)
def build_listening(spec: CheckSpec, settings: RunSettings) -> RemoteCommand:
    port = int(spec.params["port"])
    protocol = spec.params.get("protocol", "tcp")
    probe = (
        _PROBE.replace("@PORT@", str(port))
        .replace("@PROTOCOL@", quote(protocol))
        .replace("@FLAG@", protocol[0])
        .replace("@HEXPORT@", f"{port:04X}")
        .replace("@STATE@", _PROC_STATES[protocol])
    )
    return RemoteCommand(probe, spec.timeout_seconds, settings.probe_capture_bytes)


def listening_addresses(facts: Facts, port: int) -> list[str]:
    """Return the local addresses listening on ``port`` from ss or netstat lines or /proc/net entries."""
    addresses = []
    for local in facts.all("socket"):
        address, separator, found_port = local.rpartition(":")
        if separator and found_port == str(port):
            addresses.append(_normal_address(address))
    for entry in facts.all("proc"):
        hex_address, _, hex_port = entry.partition(":")
        if int(hex_port, 16) == port:
            addresses.append(_proc_address(hex_address))
    return list(dict.fromkeys(addresses))


def _normal_address(address: str) -> str:
    address = address.strip("[]").split("%", 1)[0]
    return "::" if address in ("", ":") else address


def _proc_address(hex_address: str) -> str:
    """Decode /proc/net's hex address: 32-bit words in host byte order (little-endian on x86 and arm64)."""
    words = [bytes.fromhex(hex_address[index : index + 8])[::-1] for index in range(0, len(hex_address), 8)]
    return str(ipaddress.ip_address(b"".join(words)))


def _assess(spec: CheckSpec, facts: Facts) -> Assessment:
    port = int(spec.params["port"])
    addresses = listening_addresses(facts, port)
    protocol = spec.params.get("protocol", "tcp")
    summary = f"{protocol} port {port} listens on {', '.join(addresses)} (read with {facts.first('tool')})"
    return presence(
        spec, "listening", bool(addresses), f"nothing listens on {protocol} port {port} (read with {facts.first('tool')})", summary,
        lambda: match_all(spec, {"addresses": addresses}, {"addresses": "listening addresses"}),
    )
