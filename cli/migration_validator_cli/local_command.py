"""`migration-validator local start`: keep the local stack running for other commands to use."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass

import boto3
from botocore.config import Config

from .local.instances import launch_instance
from .local.stack import LocalSettings, LocalStack, use_local_aws_environment
from .local.targets import generate_ssh_key
from .local.template import REGION
from .paths import LOCAL_STATE_DIR

STATE_FILE = LOCAL_STATE_DIR / "stack.json"
KEY_FILE = LOCAL_STATE_DIR / "ssh_key"


def read_local_state() -> dict | None:
    """Return the running local stack's endpoint and outputs, or None when none is running.

    A state file left behind by a stack that was killed is removed, so commands fall back to
    their other targets instead of failing to connect.
    """
    if not STATE_FILE.exists():
        return None
    state = json.loads(STATE_FILE.read_text())
    if not _process_alive(state.get("pid")):
        print(f"migration-validator: removing {STATE_FILE}: its local stack (pid {state.get('pid')}) is no longer running", file=sys.stderr)
        STATE_FILE.unlink(missing_ok=True)
        return None
    return state


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class RunningStack:
    """A local stack that another process runs, reached through its endpoints."""

    endpoint_url: str
    lambda_endpoint_url: str
    outputs: dict

    @classmethod
    def from_state_file(cls) -> "RunningStack | None":
        state = read_local_state()
        if state is None:
            return None
        return cls(state["endpoint_url"], state["lambda_endpoint_url"], state["outputs"])

    @classmethod
    def of(cls, stack: LocalStack) -> "RunningStack":
        return cls(stack.moto_url, stack.endpoint.url, stack.outputs)

    def client(self, service: str, read_timeout: float = 60):
        """Return a client of the stack's endpoints; Lambda clients do not retry, since a retried Invoke runs again."""
        use_local_aws_environment()
        if service == "lambda":
            config = Config(read_timeout=read_timeout, retries={"total_max_attempts": 1})
            return boto3.client("lambda", region_name=REGION, endpoint_url=self.lambda_endpoint_url, config=config)
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint_url)


def run_local_start(instances: int = 0) -> int:
    """Run the local stack until Ctrl-C, with ``instances`` healthy web servers to validate."""
    running = read_local_state()
    if running:
        print(f"migration-validator: a local stack is already running (pid {running['pid']}); stop it with Ctrl-C or kill {running['pid']} first", file=sys.stderr)
        return 1
    LOCAL_STATE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOCAL_STATE_DIR / "functions.log"
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with open(log_path, "w") as log_sink, LocalStack(settings=LocalSettings(stack_name="mv-local"), log_sink=log_sink) as stack, contextlib.ExitStack() as servers:
        launched = launch_local_instances(stack, instances, servers)
        state = {"pid": os.getpid(), "endpoint_url": stack.moto_url, "lambda_endpoint_url": stack.endpoint.url, "outputs": stack.outputs}
        STATE_FILE.write_text(json.dumps(state, indent=2))
        print(f"local stack running; AWS APIs at {stack.moto_url}, function logs in {log_path}")
        print(json.dumps(stack.outputs, indent=2))
        for instance in launched:
            print(f"instance {instance.instance_id} at {instance.address}: sshd on port 22, web server on port 80")
        if launched:
            print(f"validate them with: migration-validator validate {' '.join(i.instance_id for i in launched)} --suite web-app")
            print(f"their SSH key, for `migration-validator check --key`, is in {KEY_FILE}")
        print("Ctrl-C stops it.", flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            STATE_FILE.unlink(missing_ok=True)
    return 0


def launch_local_instances(stack: LocalStack, count: int, servers: contextlib.ExitStack) -> list:
    """Start ``count`` healthy web servers on loopback, registered in EC2, with the stack's SSH key."""
    if count == 0:
        return []
    private_key, public_key = generate_ssh_key()
    stack.set_ssh_key(private_key)
    # The same key lets an operator run `migration-validator check` against these instances.
    KEY_FILE.write_text(private_key)
    KEY_FILE.chmod(0o600)
    launched = []
    for index in range(count):
        instance = launch_instance(stack.client("ec2"), LOCAL_STATE_DIR / f"instance-{index}", public_key)
        servers.callback(instance.stop)
        launched.append(instance)
    return launched

if __name__ == "__main__":
    sys.exit(run_local_start())
