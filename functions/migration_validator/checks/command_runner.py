"""The runner: a generated POSIX sh script that runs command checks on the target, and its output parser.

The runner needs sh and GNU coreutils (timeout, head -c, wc, mktemp, date +%s%N), as on
Amazon Linux, RHEL, Debian and Ubuntu. Output protocol, one line per event, every line
starting with a random tag so text printed by login scripts cannot be mistaken for it:

    TAG begin
    TAG result INDEX EXIT T0_NS T1_NS OUT_LEN ERR_LEN OUT_TOTAL ERR_TOTAL
    <OUT_LEN bytes of stdout><ERR_LEN bytes of stderr><newline>
    TAG end

or ``TAG runner-error TEXT`` when the runner cannot start. EXIT, T0_NS and T1_NS are
``-`` when unknown; OUT_TOTAL and ERR_TOTAL count everything the command printed.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

_SCRIPT_HEAD = r"""
umask 077
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH
mv_tag=@TAG@
mv_capture_bytes=@CAPTURE@
mv_kill_after=@KILL_AFTER@

mv_abort() {
    printf '\n%s runner-error %s\n' "$mv_tag" "$1"
    exit 0
}

mv_capture() {
    head -c "$mv_capture_bytes" >"$1"
    wc -c >"$1.rest"
}

mv_run() {
    {
        {
            mv_t0=$(date +%s%N)
            timeout -k "$mv_kill_after" "$2" sh -c 'eval "$1"' "check-$1" "$3" </dev/null 2>&1 1>&3 3>&- &
            mv_pid=$!
            wait "$mv_pid"
            mv_rc=$?
            mv_t1=$(date +%s%N)
            kill -s KILL -- "-$mv_pid" 2>/dev/null
            echo "$mv_rc $mv_t0 $mv_t1" >"$mv_dir/$1.rc"
        } | mv_capture "$mv_dir/$1.err" 3>&-
    } 3>&1 | mv_capture "$mv_dir/$1.out"
}

mv_report() {
    mv_f="$mv_dir/$1"
    mv_status="- - -"
    mv_out_rest=0
    mv_err_rest=0
    [ -s "$mv_f.rc" ] && read -r mv_status <"$mv_f.rc"
    [ -s "$mv_f.out.rest" ] && read -r mv_out_rest <"$mv_f.out.rest"
    [ -s "$mv_f.err.rest" ] && read -r mv_err_rest <"$mv_f.err.rest"
    : >>"$mv_f.out"
    : >>"$mv_f.err"
    mv_index=$1
    # One wc for both files; mv_dir comes from a fixed mktemp template, so it has no spaces.
    set -- $(wc -c "$mv_f.out" "$mv_f.err")
    printf '%s result %s %s %s %s %s %s\n' "$mv_tag" "$mv_index" "$mv_status" "$1" "$3" $(($1 + mv_out_rest)) $(($3 + mv_err_rest))
    cat "$mv_f.out" "$mv_f.err"
    echo
}

mv_main() {
    command -v timeout >/dev/null 2>&1 || mv_abort "the timeout command (GNU coreutils) is not installed"
    mv_dir=$(mktemp -d /tmp/migration-validator.XXXXXXXX 2>/dev/null \
        || mktemp -d /var/tmp/migration-validator.XXXXXXXX 2>/dev/null \
        || mktemp -d /dev/shm/migration-validator.XXXXXXXX 2>/dev/null) \
        || mv_abort "mktemp -d failed in /tmp, /var/tmp and /dev/shm; no writable temporary directory"
    trap 'rm -rf "$mv_dir"' EXIT
    trap 'exit 129' HUP
    trap 'exit 141' PIPE
    trap 'exit 143' TERM
    printf '%s begin\n' "$mv_tag"
"""

_SCRIPT_TAIL = r"""
    printf '%s end\n' "$mv_tag"
}

mv_main </dev/null
exit 0
"""


@dataclass(frozen=True)
class RunnerRecord:
    """One check's outcome as the runner reported it; ``stdout``/``stderr`` hold the captured bytes only."""

    index: int
    exit_status: int | None
    duration_ms: int | None
    stdout: bytes
    stderr: bytes
    stdout_total: int
    stderr_total: int


@dataclass
class RunnerReport:
    records: dict[int, RunnerRecord] = field(default_factory=dict)
    runner_error: str | None = None
    finished: bool = False


def shell_quote(text: str) -> str:
    """Quote ``text`` as one POSIX sh word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def build_runner_script(
    commands: Sequence[tuple[str, float]],
    waves: Sequence[Sequence[int]],
    *,
    tag: str,
    capture_bytes: int,
    kill_after_seconds: float,
) -> str:
    """Return the runner script for ``commands`` as (command, timeout in seconds), run wave by wave.

    The whole script is one function call, so sh parses all of it before running any
    of it: a script cut short in transit runs nothing.
    """
    # One byte more than the cap lets the parser tell "exactly the cap" from "capped".
    head = (
        _SCRIPT_HEAD.replace("@TAG@", tag)
        .replace("@CAPTURE@", str(capture_bytes + 1))
        .replace("@KILL_AFTER@", _seconds(kill_after_seconds))
    )
    lines = [head]
    for wave in waves:
        for index in wave:
            command, timeout = commands[index]
            lines.append(f"    mv_run {index} {_seconds(timeout)} {shell_quote(command)} &\n")
        lines.append("    wait\n")
        for index in wave:
            lines.append(f"    mv_report {index}\n")
    lines.append(_SCRIPT_TAIL)
    return "".join(lines)


def parse_runner_output(data: bytes, tag: str) -> RunnerReport:
    """Parse what the runner printed; a record cut off by a closed channel is left out."""
    report = RunnerReport()
    marker = tag.encode("ascii") + b" "
    position = 0
    while True:
        start = data.find(marker, position)
        if start < 0:
            break
        line_end = data.find(b"\n", start)
        if line_end < 0:
            break
        if start > 0 and data[start - 1 : start] != b"\n":
            position = start + 1
            continue
        fields = data[start:line_end].decode("utf-8", errors="replace").split()
        position = line_end + 1
        kind = fields[1] if len(fields) > 1 else ""

        if kind == "result":
            record, position = _parse_record(fields, data, position)
            if record is None:
                break
            report.records[record.index] = record
        elif kind == "runner-error":
            report.runner_error = " ".join(fields[2:])
        elif kind == "end":
            report.finished = True
    return report


def _parse_record(fields: list[str], data: bytes, position: int) -> tuple[RunnerRecord | None, int]:
    if len(fields) != 10:
        return None, position
    try:
        index = int(fields[2])
        out_len, err_len, out_total, err_total = (int(value) for value in fields[6:10])
    except ValueError:
        return None, position
    end = position + out_len + err_len
    if end + 1 > len(data):  # the captured bytes and the newline after them
        return None, position
    record = RunnerRecord(
        index=index,
        exit_status=_optional_int(fields[3]),
        duration_ms=_duration_ms(fields[4], fields[5]),
        stdout=data[position : position + out_len],
        stderr=data[position + out_len : end],
        stdout_total=out_total,
        stderr_total=err_total,
    )
    return record, end + 1


def _optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _duration_ms(start_ns: str, end_ns: str) -> int | None:
    start, end = _optional_int(start_ns), _optional_int(end_ns)
    if start is None or end is None or end < start:
        return None
    return (end - start) // 1_000_000
