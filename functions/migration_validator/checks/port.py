"""The ``port`` check: does a TCP port on the instance accept connections (or, with open: false, not)."""

import socket
import time

from migration_validator import verdicts
from migration_validator.checks.addresses import check_address
from migration_validator.checks.base import RunContext, check_result, elapsed_ms, single_check_type
from migration_validator.suites import CheckSpec
from migration_validator.verdicts import CheckResult


@single_check_type("port")
def run_port_check(spec: CheckSpec, context: RunContext) -> CheckResult:
    address = context.target.address
    check_address(address)
    port = spec.params["port"]
    expect_open = spec.params.get("expect", {}).get("open", True)
    timeout = spec.timeout_seconds

    started = time.monotonic()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            pass
        state, reason, detail = "open", verdicts.OK, f"port {port} accepted a TCP connection"
    except ConnectionRefusedError:
        state, reason, detail = "closed", verdicts.CONNECTION_REFUSED, f"port {port} refused the connection"
    except TimeoutError:
        state, reason, detail = "closed", verdicts.TIMEOUT, f"no answer on port {port} within {timeout:g} s"
    except OSError as error:
        state, reason, detail = "closed", verdicts.CONNECTION_FAILED, f"connecting to port {port} failed: {error.strerror or error}"
    duration_ms = elapsed_ms(started, time.monotonic())

    if expect_open:
        passed = state == "open"
        message = detail if passed else f"{detail}, expected it open"
    else:
        passed = state == "closed"
        reason = verdicts.OK if passed else verdicts.CHECK_FAILED
        message = f"{detail}, as expected" if passed else f"{detail}, expected it closed"
    return check_result(spec, passed=passed, reason=reason, message=message, duration_ms=duration_ms, redactor=context.redactor)
