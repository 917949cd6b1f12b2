"""Command-line entry point: `migration-validator COMMAND`."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="migration-validator", description="Validate servers launched by a migration.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("demo", help="run the main job on the local stack: two launches, PASSED and FAILED")

    executions = commands.add_parser("executions", help="list executions, or show one state by state")
    executions.add_argument("--endpoint-url", help="Step Functions endpoint (default: the running local stack, else AWS)")
    executions.add_argument("--state-machine-arn", help="state machine ARN (default: the local stack's)")
    actions = executions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list the newest executions")
    listing.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
    listing.add_argument("--max", type=int, default=50, help="how many executions to list (default 50)")
    show = actions.add_parser("show", help="show one execution state by state")
    show.add_argument("execution", help="execution name or ARN")

    validate = commands.add_parser("validate", help="start validation of instances through the launch queue")
    validate.add_argument("instance_ids", nargs="+", metavar="INSTANCE_ID")
    validate.add_argument("--suite", help="suite to run instead of the instance's tag or the default")
    validate.add_argument("--wave", help="wave name recorded with the result")
    validate.add_argument("--queue-url", help="launch queue URL (default: the running local stack's)")
    validate.add_argument("--endpoint-url", help="SQS endpoint (default: the running local stack's, else AWS)")

    intake = commands.add_parser("intake", help="read launch messages without running anything")
    intake_actions = intake.add_subparsers(dest="action", required=True)
    parse = intake_actions.add_parser("parse", help="print how each file's message would be read, one JSON line per file")
    parse.add_argument("files", nargs="+", metavar="FILE", help="a file holding one message body as SQS hands it to the consumer")

    local = commands.add_parser("local", help="run the local stack")
    local_actions = local.add_subparsers(dest="action", required=True)
    local_actions.add_parser("start", help="start the local stack in the foreground until Ctrl-C")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "demo":
        from .demo import run_demo

        return run_demo()
    if arguments.command == "executions":
        from .executions import run_executions

        return run_executions(arguments)
    if arguments.command == "validate":
        from .intake import run_validate

        return run_validate(arguments)
    if arguments.command == "intake":
        from .intake import run_intake_parse

        return run_intake_parse(arguments.files)
    if arguments.command == "local":
        from .local_command import run_local_start

        return run_local_start()
    return 2


if __name__ == "__main__":
    sys.exit(main())
