"""Stand-ins and fixtures for target-side checks where this machine lacks what an instance has.

systemd does not run as PID 1 here, so a stand-in ``systemctl`` prints what ``show`` prints
under systemd 252, read from unit state files. rpm is real, with its database in the test's own
directory (through ``%_dbpath`` in the session's ``~/.rpmmacros``), so no system state changes.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

SYSTEMCTL = r"""#!/bin/sh
# Stand-in for `systemctl show --property=... -- UNIT`; unit state comes from $UNITS/UNIT.
units=@UNITS@
[ "$1" = show ] || { echo "stand-in systemctl answers only show" >&2; exit 1; }
unit=
for argument in "$@"; do
    case "$argument" in show|--*) ;; *) unit=$argument ;; esac
done
unit=${unit%.service}
if [ -f "$units/$unit" ]; then
    echo LoadState=loaded
    cat "$units/$unit"
else
    echo LoadState=not-found
    echo ActiveState=inactive
    echo SubState=dead
    echo UnitFileState=
fi
"""

RPM_SPEC = """\
Name: {name}
Version: {version}
Release: {release}
Summary: Fixture package for migration-validator tests
License: MIT
BuildArch: noarch

%description
Fixture package for migration-validator tests.

%files
"""


def write_systemctl(bin_dir: Path, units_dir: Path) -> None:
    """Install the stand-in systemctl in ``bin_dir``, reading unit states from ``units_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    units_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "systemctl"
    script.write_text(SYSTEMCTL.replace("@UNITS@", str(units_dir)))
    script.chmod(0o755)


def write_unit(units_dir: Path, name: str, active: str, sub: str, unit_file: str) -> None:
    (units_dir / name).write_text(f"ActiveState={active}\nSubState={sub}\nUnitFileState={unit_file}\n")


def install_rpm(home: Path, work: Path, name: str, version: str, release: str) -> None:
    """Build a small noarch package and record it in an rpm database that ``home``'s ~/.rpmmacros names."""
    database = home / "rpmdb"
    database.mkdir(parents=True, exist_ok=True)
    (home / ".rpmmacros").write_text(f"%_dbpath {database}\n")
    top = work / "rpmbuild"
    spec = work / f"{name}.spec"
    spec.write_text(RPM_SPEC.format(name=name, version=version, release=release))
    environment = {**os.environ, "HOME": str(home)}
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)],
        check=True, capture_output=True, env=environment,
    )
    package = next((top / "RPMS" / "noarch").glob(f"{name}-{version}-{release}*.rpm"))
    subprocess.run(["rpm", "--initdb"], check=True, capture_output=True, env=environment)
    subprocess.run(
        ["rpm", "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos", str(package)],
        check=True, capture_output=True, env=environment,
    )


def sysv_script(name: str, state_file: Path) -> str:
    """An LSB init script whose status is 0 while ``state_file`` exists, else 3 (not running)."""
    return textwrap.dedent(
        f"""\
        #!/bin/sh
        case "$1" in
            status) [ -f '{state_file}' ] && exit 0; exit 3 ;;
            *) echo "Usage: /etc/init.d/{name} status" >&2; exit 2 ;;
        esac
        """
    )
