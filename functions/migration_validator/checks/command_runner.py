"""The runner: a generated POSIX sh script that runs target-side checks, and its output parser.

Starting a process costs milliseconds on a small instance, so the runner keeps the
processes per check to two: coreutils ``timeout`` and the ``sh`` that runs the check's
command. Each command writes its stdout and stderr straight into files in a private
temporary directory. After each wave of commands one ``wc -c`` reports every file's
size and one ``head -q -c`` prints the first bytes of each, so reading back costs two
processes per wave, not per check. A file size limit (``ulimit -f``) bounds how much a
command can write there.

The runner needs sh, GNU coreutils (timeout, head, wc, mktemp) and /proc/uptime for
durations, as on Amazon Linux, RHEL, Debian and Ubuntu. Output protocol, every marker
line starting with a random tag so text printed by login scripts cannot be mistaken for it:

    TAG begin
    TAG wave
    TAG result INDEX EXIT T0 T1          one line per check of the wave
    TAG sizes
    SIZE INDEX.out                        wc -c output, one line per file, then a total
    SIZE INDEX.err
    TAG data
    <captured bytes of each file, in the order of the sizes>
    <newline>TAG wave-end
    TAG end

or ``TAG runner-error TEXT`` when the runner cannot start. EXIT is ``-`` when unknown;
T0 and T1 are /proc/uptime readings in seconds with two decimals, or ``-``.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

_SCRIPT_HEAD = r"""
umask 077
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export PATH
mv_tag=@TAG@
mv_kill_after=@KILL_AFTER@

mv_abort() {
    printf '\n%s runner-error %s\n' "$mv_tag" "$1"
    exit 0
}

mv_run() {
    (
        mv_t0=-
        mv_t1=-
        read -r mv_t0 mv_rest </proc/uptime
        timeout -k "$mv_kill_after" "$2" sh -c 'eval "$1"' "check-$1" "$3" </dev/null >"$1.out" 2>"$1.err" &
        mv_pid=$!
        wait "$mv_pid"
        mv_rc=$?
        read -r mv_t1 mv_rest </proc/uptime
        # timeout(1) leads its own process group: end whatever the check left running.
        kill -s KILL -- "-$mv_pid" 2>/dev/null
        echo "$mv_rc $mv_t0 $mv_t1" >"$1.rc"
    ) 2>/dev/null &
}

mv_results() {
    printf '%s wave\n' "$mv_tag"
    for mv_index in "$@"; do
        mv_status="- - -"
        [ -s "$mv_index.rc" ] && read -r mv_status <"$mv_index.rc"
        printf '%s result %s %s\n' "$mv_tag" "$mv_index" "$mv_status"
    done
    printf '%s sizes\n' "$mv_tag"
}

mv_main() {
    command -v timeout >/dev/null 2>&1 || mv_abort "the timeout command (GNU coreutils) is not installed"
    mv_dir=$(mktemp -d /var/tmp/migration-validator.XXXXXXXX 2>/dev/null \
        || mktemp -d /tmp/migration-validator.XXXXXXXX 2>/dev/null \
        || mktemp -d /dev/shm/migration-validator.XXXXXXXX 2>/dev/null) \
        || mv_abort "mktemp -d failed in /var/tmp, /tmp and /dev/shm; no writable temporary directory"
    trap 'cd /; rm -rf "$mv_dir"' EXIT
    trap 'exit 129' HUP
    trap 'exit 141' PIPE
    trap 'exit 143' TERM
    cd "$mv_dir" || mv_abort "cannot enter the temporary directory $mv_dir"
    ulimit -f @FILE_BLOCKS@ 2>/dev/null
    printf '%s begin\n' "$mv_tag"
"""

_SCRIPT_TAIL = r"""
    printf '%s end\n' "$mv_tag"
}

mv_main </dev/null
exit 0
"""

_SIZE_LINE = re.compile(rb"^\s*(\d+)\s+(\d+)\.(out|err)$")


@dataclass(frozen=True)
class RemoteCommand:
    """One command for the runner: shell text, time limit, and how many bytes of each stream to keep."""

    text: str
    timeout_seconds: float
    capture_bytes: int


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
    garbled_waves: int = 0  # waves whose captured bytes did not match the sizes reported before them


def shell_quote(text: str) -> str:
    """Quote ``text`` as one POSIX sh word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def build_runner_script(
    commands: Sequence[RemoteCommand],
    waves: Sequence[Sequence[int]],
    *,
    tag: str,
    kill_after_seconds: float,
    file_size_limit_bytes: int,
) -> str:
    """Return the runner script for ``commands``, run wave by wave.

    The whole script is one function call, so sh parses all of it before running any
    of it: a script cut short in transit runs nothing.
    """
    head = (
        _SCRIPT_HEAD.replace("@TAG@", tag)
        .replace("@KILL_AFTER@", _seconds(kill_after_seconds))
        .replace("@FILE_BLOCKS@", str(max(1, file_size_limit_bytes // 512)))
    )
    lines = [head]
    for wave in waves:
        for index in wave:
            command = commands[index]
            lines.append(f"    mv_run {index} {_seconds(command.timeout_seconds)} {shell_quote(command.text)}\n")
        lines.append("    wait\n")
        lines.append(f"    mv_results {' '.join(str(index) for index in wave)}\n")
        lines.append(f"    wc -c {' '.join(f'{index}.out {index}.err' for index in wave)}\n")
        lines.append("    printf '%s data\\n' \"$mv_tag\"\n")
        # One byte more than the cap lets the parser tell "exactly the cap" from "capped".
        for capture_bytes, group in _group_by_capture(commands, wave):
            files = " ".join(f"{index}.out {index}.err" for index in group)
            lines.append(f"    head -q -c {capture_bytes + 1} {files}\n")
        lines.append("    printf '\\n%s wave-end\\n' \"$mv_tag\"\n")
        lines.append(f"    rm -f {' '.join(f'{index}.out {index}.err {index}.rc' for index in wave)}\n")
    lines.append(_SCRIPT_TAIL)
    return "".join(lines)


def _group_by_capture(commands: Sequence[RemoteCommand], wave: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Split a wave into runs of consecutive checks that keep the same number of bytes."""
    groups: list[tuple[int, list[int]]] = []
    for index in wave:
        capture = commands[index].capture_bytes
        if groups and groups[-1][0] == capture:
            groups[-1][1].append(index)
        else:
            groups.append((capture, [index]))
    return groups


def parse_runner_output(data: bytes, tag: str, commands: Sequence[RemoteCommand]) -> RunnerReport:
    """Parse what the runner printed; a wave cut off by a closed channel is left out."""
    report = RunnerReport()
    marker = tag.encode("ascii") + b" "
    position = 0
    while True:
        line, position = _next_marker_line(data, marker, position)
        if line is None:
            break
        kind = line[1] if len(line) > 1 else ""
        if kind == "wave":
            wave_records, position, garbled = _parse_wave(data, marker, position, commands)
            if wave_records is None:
                break
            if garbled:
                report.garbled_waves += 1
            else:
                report.records.update(wave_records)
        elif kind == "runner-error":
            report.runner_error = " ".join(line[2:])
        elif kind == "end":
            report.finished = True
    return report


def _next_marker_line(data: bytes, marker: bytes, position: int) -> tuple[list[str] | None, int]:
    """Return the fields of the next line that starts with ``marker`` at or after ``position``."""
    while True:
        start = data.find(marker, position)
        if start < 0:
            return None, position
        line_end = data.find(b"\n", start)
        if line_end < 0:
            return None, position
        if start > 0 and data[start - 1 : start] != b"\n":
            position = start + 1
            continue
        return data[start:line_end].decode("utf-8", errors="replace").split(), line_end + 1


def _parse_wave(
    data: bytes, marker: bytes, position: int, commands: Sequence[RemoteCommand]
) -> tuple[dict[int, RunnerRecord] | None, int, bool]:
    """Parse one wave after its ``wave`` line; return None for a wave that is not complete."""
    statuses: dict[int, tuple[int | None, int | None]] = {}
    while True:
        line, position = _next_marker_line(data, marker, position)
        if line is None:
            return None, position, False
        if len(line) == 6 and line[1] == "result" and line[2].isdigit():
            statuses[int(line[2])] = (_optional_int(line[3]), _duration_ms(line[4], line[5]))
        elif line[1:2] == ["sizes"]:
            break
        else:
            return None, position, False

    data_line = marker + b"data\n"
    data_start = data.find(data_line, position)
    if data_start < 0:
        return None, position, False
    sizes: dict[tuple[int, str], int] = {}
    for raw in data[position:data_start].splitlines():
        match = _SIZE_LINE.match(raw)
        if match:
            sizes[(int(match.group(2)), match.group(3).decode())] = int(match.group(1))
    cursor = data_start + len(data_line)

    records: dict[int, RunnerRecord] = {}
    excerpts: dict[int, list[bytes]] = {}
    wave = [index for index in statuses if 0 <= index < len(commands)]
    for capture, group in _group_by_capture(commands, wave):
        for index in group:
            excerpts[index] = []
            for stream in ("out", "err"):
                length = min(sizes.get((index, stream), 0), capture + 1)
                excerpts[index].append(data[cursor : cursor + length])
                cursor += length

    trailer = b"\n" + marker + b"wave-end\n"
    if len(data) < cursor + len(trailer):
        return None, cursor, False
    if data[cursor : cursor + len(trailer)] != trailer:
        # A process that escaped its check kept writing between wc and head: the bytes
        # cannot be split between checks with certainty, so the wave is not reported.
        end = data.find(trailer, cursor)
        return {}, (end + len(trailer) if end >= 0 else len(data)), True

    for index in wave:
        exit_status, duration_ms = statuses[index]
        stdout, stderr = excerpts[index]
        records[index] = RunnerRecord(
            index=index,
            exit_status=exit_status,
            duration_ms=duration_ms,
            stdout=stdout,
            stderr=stderr,
            stdout_total=sizes.get((index, "out"), 0),
            stderr_total=sizes.get((index, "err"), 0),
        )
    return records, cursor + len(trailer), False


def _optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _duration_ms(start: str, end: str) -> int | None:
    """Milliseconds between two /proc/uptime readings (10 ms resolution)."""
    try:
        milliseconds = (Decimal(end) - Decimal(start)) * 1000
    except InvalidOperation:
        return None
    return int(milliseconds) if milliseconds >= 0 else None
