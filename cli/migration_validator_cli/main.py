"""Command-line entry point: `migration-validator COMMAND`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from .check_options import add_parsers as add_check_parsers


def positive_count(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 1000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="migration-validator", description="Validate servers launched by a migration.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("demo", help="run the main job on the local stack: two launches, PASSED and FAILED")

    executions = commands.add_parser("executions", help="list executions, or show one state by state")
    executions.add_argument("--endpoint-url", help="Step Functions endpoint (default: the running local stack, else AWS)")
    executions.add_argument("--state-machine-arn", help="state machine ARN (default: the local stack's)")
    executions.add_argument("--results-table", help="ResultsTable name, to show each execution's verdict (default: the local stack's)")
    actions = executions.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list the newest executions")
    listing.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
    listing.add_argument("--max", type=positive_count, default=50, help="how many executions to list, 1 to 1000 (default 50)")
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

    reconcile = commands.add_parser("reconcile", help="run the reconciliation sweep now and print the launch messages it sent, one JSON line each")
    reconcile.add_argument("--grace-minutes", type=int, help="minutes since launch before an instance without a verdict counts as missed (default: the stack's ReconcileGraceMinutes)")
    reconcile.add_argument("--function-name", help="ReconcileFunction of a deployed stack (default: the running local stack's)")
    reconcile.add_argument("--endpoint-url", help="Lambda endpoint for --function-name (default: AWS)")

    add_check_parsers(commands)

    local = commands.add_parser("local", help="run the local stack")
    local_actions = local.add_subparsers(dest="action", required=True)
    start = local_actions.add_parser("start", help="start the local stack in the foreground until Ctrl-C")
    start.add_argument("--instances", type=int, choices=range(0, 11), default=0, metavar="N", help="also start N healthy web servers on loopback to validate (0 to 10, default 0; needs root)")
    replay = local_actions.add_parser("replay", help="send message files to the launch queue and print each outcome and verdict, one JSON line per file")
    replay.add_argument("files", nargs="+", metavar="FILE", help="a file holding one message body as SQS hands it to the consumer")
    replay.add_argument("--timeout", type=float, default=180, help="seconds to wait for all files' executions to finish (default 180)")
    add_chaos_parser(local_actions)
    return parser


def add_chaos_parser(local_actions) -> None:
    chaos = local_actions.add_parser(
        "chaos",
        help="run many launches on a local stack with injected faults and count records and notifications per launch",
    )
    chaos.add_argument("--launches", type=int, default=200, help="launches to publish (default 200)")
    chaos.add_argument("--instances", type=int, default=3, help="healthy instances (real sshd and web server) the launches share (default 3)")
    chaos.add_argument("--seed", type=int, default=1, help="seed of the fault dice (default 1)")
    chaos.add_argument("--lambda-error-rate", type=float, default=0.1, help="share of Lambda invocations that fail with a service error or timeout (default 0.1)")
    chaos.add_argument("--dynamodb-throttle-rate", type=float, default=0.1, help="share of DynamoDB requests throttled before they apply (default 0.1)")
    chaos.add_argument("--dynamodb-lost-response-rate", type=float, default=0.05, help="share of DynamoDB requests that apply but return InternalServerError (default 0.05)")
    chaos.add_argument("--sns-error-rate", type=float, default=0.2, help="share of SNS publishes of verdicts that fail (default 0.2)")
    chaos.add_argument("--ssh-cut-rate", type=float, default=0.1, help="share of SSH connections cut mid-stream (default 0.1)")
    chaos.add_argument("--ssh-cut-max-bytes", type=int, default=6000, help="a cut SSH connection ends after 200 up to this many bytes from the server; about 2000 bytes cut only handshakes (default 6000)")
    chaos.add_argument("--duplicate-rate", type=float, default=0.1, help="share of launch messages published twice (default 0.1)")
    chaos.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every launch's outcome (default 1800)")
    chaos.add_argument("--log-dir", type=Path, help="directory for the function, stack and sshd logs (default build/local/chaos)")


def chaos_options(arguments: argparse.Namespace):
    from .chaos import ChaosOptions
    from .local.faults import FaultPlan

    faults = FaultPlan(
        lambda_error_rate=arguments.lambda_error_rate,
        dynamodb_throttle_rate=arguments.dynamodb_throttle_rate,
        dynamodb_lost_response_rate=arguments.dynamodb_lost_response_rate,
        sns_error_rate=arguments.sns_error_rate,
        ssh_cut_rate=arguments.ssh_cut_rate,
        ssh_cut_max_bytes=arguments.ssh_cut_max_bytes,
        seed=arguments.seed,
    )
    log_dir = {"log_dir": arguments.log_dir} if arguments.log_dir else {}
    return ChaosOptions(
        **log_dir,
        launches=arguments.launches,
        instances=arguments.instances,
        duplicate_rate=arguments.duplicate_rate,
        timeout_seconds=arguments.timeout,
        faults=faults,
    )


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return run_command(arguments)
    except BrokenPipeError:
        # The reader of the output went away, as `| head` does; that is not an error here.
        sys.stderr.close()
        return 0
    except (BotoCoreError, ClientError) as error:
        # A deployed stack's commands fail here on missing credentials, no network or a
        # wrong ARN; the error itself names the value, so one line is enough.
        print(f"migration-validator: {arguments.command} failed: {error}", file=sys.stderr)
        if isinstance(error, (NoCredentialsError, EndpointConnectionError)):
            print("  check the AWS credentials and region, or start the local stack with `migration-validator local start`", file=sys.stderr)
        return 1


def run_command(arguments: argparse.Namespace) -> int:
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
    if arguments.command == "reconcile":
        from .reconcile import run_reconcile

        return run_reconcile(arguments)
    if arguments.command == "check":
        from .check_command import run_check

        return run_check(arguments)
    if arguments.command == "suites":
        from .check_command import run_suites_lint

        return run_suites_lint(arguments)
    if arguments.command == "local" and arguments.action == "chaos":
        from .chaos import run_chaos

        return run_chaos(chaos_options(arguments))
    if arguments.command == "local" and arguments.action == "replay":
        from .replay import run_replay

        return run_replay(arguments.files, arguments.timeout)
    if arguments.command == "local":
        from .local_command import run_local_start

        return run_local_start(arguments.instances)
    return 2


if __name__ == "__main__":
    sys.exit(main())
