"""`migration-validator local start`: keep the local stack running for other commands to use."""

from __future__ import annotations

import json
import signal
import sys
import threading

from .local.stack import LocalSettings, LocalStack
from .paths import LOCAL_STATE_DIR

STATE_FILE = LOCAL_STATE_DIR / "stack.json"


def read_local_state() -> dict | None:
    """Return the running local stack's endpoint and outputs, or None when none was started."""
    if not STATE_FILE.exists():
        return None
    return json.loads(STATE_FILE.read_text())


def run_local_start() -> int:
    LOCAL_STATE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOCAL_STATE_DIR / "functions.log"
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with open(log_path, "w") as log_sink, LocalStack(settings=LocalSettings(stack_name="mv-local"), log_sink=log_sink) as stack:
        STATE_FILE.write_text(json.dumps({"endpoint_url": stack.moto_url, "lambda_endpoint_url": stack.endpoint.url, "outputs": stack.outputs}, indent=2))
        print(f"local stack running; AWS APIs at {stack.moto_url}, function logs in {log_path}")
        print(json.dumps(stack.outputs, indent=2))
        print("Ctrl-C stops it.", flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            STATE_FILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_local_start())
