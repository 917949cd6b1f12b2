"""Options of `migration-validator check` and `migration-validator suites lint`, kept apart so other commands start without the check engine."""

from __future__ import annotations

import argparse
from pathlib import Path

from .paths import SUITES_DIR


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """Add the ``check`` and ``suites`` commands to the top-level parser."""
    check = commands.add_parser(
        "check",
        help="run a suite against a host you can reach, outside the workflow, and print each check's outcome",
        description="Exit status: 0 passed, 1 failed, 2 unreachable, 3 error, 78 invalid suite.",
    )
    check.add_argument("--suite", required=True, help="suite name, the file name without .yaml")
    check.add_argument("--host", required=True, help="IP address or name of the host; it must not be link-local or the metadata address")
    check.add_argument("--port", type=int, default=22, help="SSH port (default 22)")
    check.add_argument("--user", default="ec2-user", help="SSH user (default ec2-user)")
    check.add_argument("--key", type=Path, help="unencrypted SSH private key file (default: ~/.ssh/id_ed25519, id_ecdsa or id_rsa)")
    host_key = check.add_mutually_exclusive_group()
    host_key.add_argument("--known-hosts", type=Path, help="known_hosts file with the host's key (default: ~/.ssh/known_hosts)")
    host_key.add_argument("--host-key", help="expected host key fingerprint, SHA256:... as ssh-keygen -lf prints it; several separated by spaces")
    host_key.add_argument("--trust-on-first-use", action="store_true", help="accept whatever host key the server presents, and print it")
    check.add_argument("--tag", action="append", default=[], metavar="NAME=VALUE", help="value for ${tag:NAME} in the suite, as the instance tag migration-validator:NAME would give it; repeatable")
    check.add_argument("--suites-dir", type=Path, default=SUITES_DIR, help=f"directory of suite files (default {SUITES_DIR})")
    check.add_argument("--format", choices=["text", "json", "junit"], default="text", help="output format (default text)")
    check.add_argument("--output", type=Path, help="write the output to this file instead of standard output")

    suites = commands.add_parser("suites", help="work with suite files")
    actions = suites.add_subparsers(dest="action", required=True)
    lint = actions.add_parser("lint", help="check every suite in a directory; exit 0 when all are valid, 78 otherwise")
    lint.add_argument("directory", nargs="?", type=Path, default=SUITES_DIR, help=f"suites directory (default {SUITES_DIR})")
    lint.add_argument("--time-limit", type=float, help="seconds a suite run may take at most (default: the RunSmokeTests function's Timeout in template.yaml)")
