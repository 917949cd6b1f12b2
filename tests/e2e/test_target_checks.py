"""Target-side check types (service, process, file, package, user, group, mount, dns, disk,
listening) against a real sshd on loopback, all read over one SSH exec."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from migration_validator import verdicts
from migration_validator.checks import run_suite
from migration_validator.targets import Target
from migration_validator.verdicts import CheckStatus, Verdict
from migration_validator_cli.local.targets import free_loopback_address, start_sshd

from helpers import make_suite, result_of
from standins import install_rpm, sysv_script, write_systemctl, write_unit

pytestmark = pytest.mark.timeout(120)

RPM_NAME = "mv-fixture-tool"


@dataclass
class StandInHost:
    target: Target
    sshd_log: Path
    files: Path  # a directory of files made for the file checks
    sysv_running: str  # SysV service that is running and has a start link
    sysv_stopped: str  # SysV service that is stopped and has no start link


@pytest.fixture(scope="module")
def stand_in_host(tmp_path_factory, ssh_key):
    """sshd whose sessions find the stand-in systemctl first on PATH and a private rpm database in HOME."""
    work = tmp_path_factory.mktemp("stand-in-host")
    bin_dir, units, home = work / "bin", work / "units", work / "home"
    write_systemctl(bin_dir, units)
    write_unit(units, "nginx", "active", "running", "enabled")
    write_unit(units, "postfix", "inactive", "dead", "disabled")
    write_unit(units, "dbus-broker", "active", "running", "static")
    home.mkdir()
    install_rpm(home, work, RPM_NAME, "2.4.1", "3.el9")

    files = work / "files"
    files.mkdir()
    (files / "app.conf").write_text("listen 8080\nworkers 4\n")
    (files / "app.conf").chmod(0o640)
    (files / "link").symlink_to(files / "app.conf")

    # Real SysV init scripts, run by the real service(8); removed again after the module.
    suffix = secrets.token_hex(4)
    running, stopped = f"mv-fixture-up-{suffix}", f"mv-fixture-down-{suffix}"
    created = []
    for name in (running, stopped):
        script = Path("/etc/init.d") / name
        script.write_text(sysv_script(name, work / f"{name}.running"))
        script.chmod(0o755)
        created.append(script)
    (work / f"{running}.running").touch()
    start_link = Path("/etc/rc2.d") / f"S01{running}"
    start_link.parent.mkdir(exist_ok=True)
    start_link.symlink_to(f"../init.d/{running}")
    created.append(start_link)

    environment = {"PATH": f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home)}
    address = free_loopback_address(ports=(22,))
    try:
        with start_sshd(address, 22, ssh_key.public_key, work / "sshd", environment=environment) as sshd:
            target = Target(
                instance_id="i-0000000000000e2e1",
                address=address,
                ssh_user=sshd.user,
                ssh_port=sshd.port,
                expected_host_key=sshd.host_key_fingerprint,
            )
            yield StandInHost(target, sshd.log_path, files, running, stopped)
    finally:
        for path in created:
            path.unlink(missing_ok=True)


def run_checks(tmp_path, host: StandInHost, ssh_key, *checks: dict):
    return run_suite(make_suite(tmp_path, *checks), host.target, ssh_key.private_key)


def check(check_id: str, check_type: str, **fields) -> dict:
    return {"id": check_id, "type": check_type, "timeout_seconds": 5, **fields}


# --- service --------------------------------------------------------------------------------


def test_systemd_service_states(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("nginx-up", "service", name="nginx", manager="systemd", expect={"running": True, "enabled": True}),
        check("postfix-off", "service", name="postfix", manager="systemd", expect={"running": False, "enabled": False}),
        check("static-unit", "service", name="dbus-broker.service", manager="systemd", expect={"enabled": True}),
        check("postfix-up", "service", name="postfix", manager="systemd"),
        check("missing", "service", name="no-such-unit", manager="systemd"),
    )

    assert result_of(run, "nginx-up").status == CheckStatus.PASSED
    assert result_of(run, "postfix-off").status == CheckStatus.PASSED
    assert result_of(run, "static-unit").status == CheckStatus.PASSED
    assert result_of(run, "postfix-up").reason == verdicts.VALUE_MISMATCH
    assert "ActiveState inactive" in result_of(run, "postfix-up").message
    assert result_of(run, "missing").reason == verdicts.NOT_FOUND


def test_sysv_service_states(tmp_path, stand_in_host, ssh_key):
    up, down = stand_in_host.sysv_running, stand_in_host.sysv_stopped
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("up", "service", name=up, manager="sysv", expect={"running": True, "enabled": True}),
        check("down", "service", name=down, manager="sysv", expect={"running": False, "enabled": False}),
        check("down-required", "service", name=down, manager="sysv", expect={"running": True}),
        check("missing", "service", name="no-such-script", manager="sysv"),
    )

    assert result_of(run, "up").status == CheckStatus.PASSED
    assert result_of(run, "down").status == CheckStatus.PASSED
    assert result_of(run, "down-required").reason == verdicts.VALUE_MISMATCH
    assert result_of(run, "missing").reason == verdicts.NOT_FOUND


# --- process --------------------------------------------------------------------------------


def test_process_checks(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("sshd", "process", name="sshd", expect={"count": {"ge": 1}, "user": {"contains": "root"}}),
        check("absent", "process", name="no-such-proc"),
        check("absent-expected", "process", name="no-such-proc", expect={"running": False}),
        check("too-few", "process", name="sshd", expect={"count": {"ge": 1000}}),
    )

    assert result_of(run, "sshd").status == CheckStatus.PASSED
    assert result_of(run, "absent").reason == verdicts.NOT_FOUND
    assert result_of(run, "absent-expected").status == CheckStatus.PASSED
    assert result_of(run, "too-few").reason == verdicts.VALUE_MISMATCH


# --- file -----------------------------------------------------------------------------------


def test_file_attributes_match(tmp_path, stand_in_host, ssh_key):
    conf = stand_in_host.files / "app.conf"
    digest = hashlib.sha256(conf.read_bytes()).hexdigest()
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check(
            "conf", "file", path=str(conf),
            expect={
                "type": "file", "mode": "0640", "owner": "root", "group": "root", "size": {"gt": 0},
                "content": {"contains": "listen 8080", "not_contains": "debug", "regex": "^workers [0-9]+$"},
                "sha256": digest,
            },
        ),
        check("dir", "file", path=str(stand_in_host.files), expect={"type": "directory"}),
        check("link", "file", path=str(stand_in_host.files / "link"), expect={"type": "symlink", "link_target": str(conf)}),
        check("gone", "file", path=str(stand_in_host.files / "gone"), expect={"exists": False}),
    )

    failed = {result.check_id: result.message for result in run.checks if result.status != CheckStatus.PASSED}
    assert failed == {}


def test_file_mismatches_named(tmp_path, stand_in_host, ssh_key):
    conf = stand_in_host.files / "app.conf"
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("mode", "file", path=str(conf), expect={"mode": "0600"}),
        check("content", "file", path=str(conf), expect={"content": {"contains": "listen 443"}}),
        check("digest", "file", path=str(conf), expect={"sha256": "0" * 64}),
        check("missing", "file", path=str(stand_in_host.files / "gone")),
    )

    assert "mode is 0640, expected 0600" in result_of(run, "mode").message
    assert result_of(run, "content").reason == verdicts.VALUE_MISMATCH
    assert "SHA-256 is" in result_of(run, "digest").message
    assert result_of(run, "missing").reason == verdicts.NOT_FOUND


# --- package --------------------------------------------------------------------------------


def test_dpkg_package(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("coreutils", "package", name="coreutils", manager="dpkg", expect={"version": ">= 8.0, < 100"}),
        check("too-new", "package", name="coreutils", manager="dpkg", expect={"version": ">= 100"}),
        check("absent", "package", name="no-such-package-mv", manager="dpkg"),
        check("absent-expected", "package", name="no-such-package-mv", expect={"installed": False}),
    )

    assert result_of(run, "coreutils").status == CheckStatus.PASSED
    assert result_of(run, "too-new").reason == verdicts.VALUE_MISMATCH
    assert result_of(run, "absent").reason == verdicts.NOT_FOUND
    assert result_of(run, "absent-expected").status == CheckStatus.PASSED


def test_rpm_package(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("tool", "package", name=RPM_NAME, manager="rpm", expect={"version": ">= 2.4, < 2.10"}),
        check("tool-auto", "package", name=RPM_NAME),
        check("exact", "package", name=RPM_NAME, manager="rpm", expect={"version": "== 2.4.1-3.el9"}),
        check("older", "package", name=RPM_NAME, manager="rpm", expect={"version": "< 2.4.1"}),
    )

    assert result_of(run, "tool").status == CheckStatus.PASSED
    assert result_of(run, "tool-auto").status == CheckStatus.PASSED
    assert result_of(run, "exact").status == CheckStatus.PASSED
    assert result_of(run, "older").reason == verdicts.VALUE_MISMATCH
    assert "(none):2.4.1-3.el9" in result_of(run, "older").message


# --- users, groups, mounts, names, disks, sockets -------------------------------------------


def test_user_and_group(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("root", "user", name="root", expect={"uid": 0, "home": "/root", "groups": {"contains": "root"}}),
        check("nobody-shell", "user", name="nobody", expect={"shell": {"regex": "nologin|false"}}),
        check("ghost", "user", name="no-such-user-mv"),
        check("ghost-expected", "user", name="no-such-user-mv", expect={"exists": False}),
        check("root-group", "group", name="root", expect={"gid": 0}),
        check("wrong-gid", "group", name="root", expect={"gid": 10}),
    )

    assert result_of(run, "root").status == CheckStatus.PASSED
    assert result_of(run, "nobody-shell").status == CheckStatus.PASSED
    assert result_of(run, "ghost").reason == verdicts.NOT_FOUND
    assert result_of(run, "ghost-expected").status == CheckStatus.PASSED
    assert result_of(run, "root-group").status == CheckStatus.PASSED
    assert "gid is '0', expected 10" in result_of(run, "wrong-gid").message


def test_mount_checks(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("root-rw", "mount", path="/", expect={"options": {"contains": "rw", "not_contains": "ro"}}),
        check("proc", "mount", path="/proc/", expect={"filesystem": "proc"}),
        check("not-mounted", "mount", path=str(stand_in_host.files)),
        check("root-xfs", "mount", path="/", expect={"filesystem": "xfs"}),
    )

    assert result_of(run, "root-rw").status == CheckStatus.PASSED
    assert result_of(run, "proc").status == CheckStatus.PASSED
    assert result_of(run, "not-mounted").reason == verdicts.NOT_FOUND
    assert result_of(run, "root-xfs").reason == verdicts.VALUE_MISMATCH


def test_dns_resolves_on_target(tmp_path, stand_in_host, ssh_key):
    # localhost is in this machine's /etc/hosts, so resolving it sends no DNS query.
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("localhost", "dns", name="localhost", family="ipv4", expect={"addresses": {"contains": "127.0.0.1"}}),
        check("elsewhere", "dns", name="localhost", family="ipv4", expect={"addresses": ["10.0.0.1"]}),
    )

    assert result_of(run, "localhost").status == CheckStatus.PASSED
    assert result_of(run, "elsewhere").reason == verdicts.VALUE_MISMATCH


def test_disk_free_space(tmp_path, stand_in_host, ssh_key):
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("root-free", "disk", path="/", expect={"free_percent": {"ge": 1}, "free_mib": {"gt": 0}, "inodes_free_percent": {"gt": 0}}),
        check("impossible", "disk", path="/", expect={"free_percent": {"gt": 100}}),
        check("no-path", "disk", path="/no/such/path", expect={"free_percent": {"ge": 1}}),
    )

    assert result_of(run, "root-free").status == CheckStatus.PASSED
    assert result_of(run, "impossible").reason == verdicts.VALUE_MISMATCH
    assert result_of(run, "no-path").reason == verdicts.NOT_FOUND


def test_listening_sockets(tmp_path, stand_in_host, ssh_key):
    address = stand_in_host.target.address
    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("sshd", "listening", port=22, expect={"addresses": {"contains": address}}),
        check("nothing", "listening", port=1),
        check("nothing-expected", "listening", port=1, expect={"listening": False}),
    )

    assert result_of(run, "sshd").status == CheckStatus.PASSED
    assert result_of(run, "nothing").reason == verdicts.NOT_FOUND
    assert result_of(run, "nothing-expected").status == CheckStatus.PASSED


def test_all_types_share_one_connection(tmp_path, stand_in_host, ssh_key):
    before = stand_in_host.sshd_log.read_text().count("Accepted publickey")

    run = run_checks(
        tmp_path, stand_in_host, ssh_key,
        check("command", "command", command="true"),
        check("service", "service", name="nginx", manager="systemd"),
        check("file", "file", path="/"),
        check("user", "user", name="root"),
        check("mount", "mount", path="/"),
        check("disk", "disk", path="/", expect={"free_percent": {"ge": 0}}),
    )

    assert run.verdict == Verdict.PASSED
    assert stand_in_host.sshd_log.read_text().count("Accepted publickey") == before + 1


def test_failing_probe_is_check_error(tmp_path, linux_target, ssh_key):
    # Without systemd as PID 1, the real systemctl fails, which is what a probe error looks like.
    run = run_suite(make_suite(tmp_path, check("unit", "service", name="ssh", manager="systemd")), linux_target, ssh_key.private_key)

    assert result_of(run, "unit").status == CheckStatus.ERROR
    assert result_of(run, "unit").reason == verdicts.PROBE_FAILED
    assert run.verdict == Verdict.FAILED

