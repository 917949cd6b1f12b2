"""Faults the local stack can inject, so a run shows what the product does when AWS misbehaves.

A ``FaultPlan`` sets a rate per kind of fault. ``FaultDice`` draws from it with a seeded
random generator and counts what it injected. The first chance of each kind is always taken,
so even a run of a few launches injects every kind it has a non-zero rate for.

Kinds:

- Lambda service errors and timeouts, returned by the local Invoke endpoint before the
  handler runs (throttling, service error, timeout) or after it ran (service error, timeout:
  the handler's writes happened, but Step Functions gets a failure and runs it again).
- DynamoDB throttling before a request reaches moto, and DynamoDB InternalServerError after
  moto applied the request, so the caller cannot tell whether its write happened.
- SNS Publish errors (Throttled, InternalError) before the message reaches the topic.
- SSH connections cut by ``CuttingTcpProxy`` after a random number of bytes from the server.

NOTE: SNS errors are injected only before a message is published. An error after a
successful publish leaves the publisher unable to know it was sent; retrying then gives
the one duplicate notification the product's claim-and-mark scheme cannot rule out.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Error names Step Functions gives a Lambda task on AWS. moto's interpreter names any error of
# the Invoke API itself "Exception", so the endpoint returns these as function error payloads,
# whose errorType becomes the Step Functions error name, as on AWS.
LAMBDA_SERVICE_EXCEPTION = "Lambda.ServiceException"
LAMBDA_TOO_MANY_REQUESTS = "Lambda.TooManyRequestsException"
LAMBDA_TIMEOUT = "Sandbox.Timedout"

# Lambda faults that can happen before the handler runs, and those that can happen after it.
LAMBDA_FAULTS_BEFORE = (LAMBDA_SERVICE_EXCEPTION, LAMBDA_TOO_MANY_REQUESTS, LAMBDA_TIMEOUT)
LAMBDA_FAULTS_AFTER = (LAMBDA_SERVICE_EXCEPTION, LAMBDA_TIMEOUT)


@dataclass(frozen=True)
class FaultPlan:
    """Rates, from 0 to 1, of each kind of injected fault."""

    lambda_error_rate: float = 0.0  # of Lambda invocations
    dynamodb_throttle_rate: float = 0.0  # of DynamoDB requests, rejected before moto sees them
    dynamodb_lost_response_rate: float = 0.0  # of DynamoDB requests, failed after moto applied them
    sns_error_rate: float = 0.0  # of SNS Publish requests
    ssh_cut_rate: float = 0.0  # of SSH connections through a CuttingTcpProxy
    # A cut connection ends after 200 bytes up to this many from the server. The SSH handshake
    # takes about 2 KB here, so a bound above that also cuts suites while their output arrives.
    ssh_cut_max_bytes: int = 6000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("lambda_error_rate", "dynamodb_throttle_rate", "dynamodb_lost_response_rate", "sns_error_rate", "ssh_cut_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} is {rate}: a fault rate must be between 0 and 1")

    @property
    def any(self) -> bool:
        return any(
            (self.lambda_error_rate, self.dynamodb_throttle_rate, self.dynamodb_lost_response_rate, self.sns_error_rate, self.ssh_cut_rate)
        )


@dataclass(frozen=True)
class LambdaFault:
    """One injected Invoke failure; ``before_handler`` False means the handler ran first."""

    error_type: str
    before_handler: bool

    def payload(self, request_id: str) -> bytes:
        when = "before" if self.before_handler else "after"
        message = f"RequestId: {request_id} Error: fault injected by the local stack {when} the handler ran"
        return json.dumps({"errorType": self.error_type, "errorMessage": message, "requestId": request_id, "stackTrace": []}).encode()


class FaultDice:
    """Draws faults from a plan; thread-safe. ``injected`` counts them by kind."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()
        self._chances: Counter[str] = Counter()

    def roll(self, kind: str, rate: float) -> bool:
        """Return True when a fault of ``kind`` happens now, and count it."""
        if rate <= 0:
            return False
        with self._lock:
            self._chances[kind] += 1
            happens = self._chances[kind] == 1 or self._random.random() < rate
            if happens:
                self.injected[kind] += 1
        return happens

    def choose(self, options: tuple) -> object:
        with self._lock:
            return self._random.choice(options)

    def integer(self, low: int, high: int) -> int:
        with self._lock:
            return self._random.randint(low, high)

    def lambda_fault(self, function_name: str) -> LambdaFault | None:
        """Return the fault for one invocation of ``function_name``, or None."""
        if not self.roll("lambda", self.plan.lambda_error_rate):
            return None
        before = self.choose((True, False))
        error_type = self.choose(LAMBDA_FAULTS_BEFORE if before else LAMBDA_FAULTS_AFTER)
        log.info("injecting %s %s the handler of %s", error_type, "before" if before else "after", function_name)
        return LambdaFault(error_type, before_handler=before)


class CuttingTcpProxy:
    """Forwards TCP connections to an upstream server and cuts some of them mid-stream.

    A cut connection is closed after a random number of bytes, between ``cut_after_bytes``
    bounds, has come back from the upstream server, as when a freshly booted instance drops
    its network or its SSH server restarts while a suite runs.
    """

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], dice: FaultDice, cut_after_bytes: tuple[int, int] | None = None) -> None:
        self._upstream = upstream
        self._dice = dice
        self._cut_after_bytes = cut_after_bytes or (min(200, dice.plan.ssh_cut_max_bytes), dice.plan.ssh_cut_max_bytes)
        self._listener = socket.create_server(listen)
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"cutting-proxy-{listen[0]}:{listen[1]}", daemon=True)
        self.connections = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError as error:
            log.warning("proxy could not reach %s:%d: %s", *self._upstream, error)
            client.close()
            return
        upstream.settimeout(None)
        cut_after = None
        if self._dice.roll("ssh_cut", self._dice.plan.ssh_cut_rate):
            cut_after = self._dice.integer(*self._cut_after_bytes)
        threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
        self._pump(upstream, client, cut_after)

    @staticmethod
    def _pump(source: socket.socket, destination: socket.socket, cut_after: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(4096)
                if not data:
                    break
                if cut_after is not None and sent + len(data) >= cut_after:
                    destination.sendall(data[: max(0, cut_after - sent)])
                    break
                destination.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for connection in (source, destination):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
