"""A local stand-in for the MGN (Application Migration Service) API, which moto lacks.

It serves DescribeJobs and DescribeSourceServers over HTTP in MGN's rest-json protocol and
checks every request and response against botocore's own service model for ``mgn``. A field
the workflow sends or reads under a wrong name or type therefore fails here, locally, instead
of on AWS. Jobs and source servers are added by the demo and the tests.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
from botocore.validate import ParamValidator

from .template import ACCOUNT_ID, REGION


class MgnShapeError(Exception):
    """A request or response does not match botocore's service model for mgn."""


_MODEL = botocore.session.get_session().get_service_model("mgn")
_OPERATIONS = {_MODEL.operation_model(name).http["requestUri"]: _MODEL.operation_model(name) for name in ("DescribeJobs", "DescribeSourceServers")}


def _validate(shape, value: dict, what: str) -> None:
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        raise MgnShapeError(f"{what} does not match the mgn service model: {report.generate_report()}")


class MgnStandIn:
    """Holds MGN jobs and source servers and serves them on 127.0.0.1; a context manager."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}
        self.source_servers: dict[str, dict] = {}
        self.requests: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, name="mgn-stand-in", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "MgnStandIn":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def add_launch(self, job_id: str, source_server_id: str, instance_id: str | None, launch_type: str = "test", hostname: str = "source-host") -> None:
        """Record a launch job; ``instance_id`` None stands for MGN not having filled it in yet."""
        now = datetime.now(timezone.utc).isoformat()
        server = {"sourceServerID": source_server_id, "launchStatus": "LAUNCHED" if instance_id else "IN_PROGRESS"}
        if instance_id:
            server["launchedEc2InstanceID"] = instance_id
        with self._lock:
            self.jobs[job_id] = {
                "jobID": job_id,
                "arn": f"arn:aws:mgn:{REGION}:{ACCOUNT_ID}:job/{job_id}",
                "type": "LAUNCH",
                "initiatedBy": "START_TEST" if launch_type == "test" else "START_CUTOVER",
                "creationDateTime": now,
                "status": "COMPLETED" if instance_id else "STARTED",
                "participatingServers": [server],
            }
            source_server = {
                "sourceServerID": source_server_id,
                "arn": f"arn:aws:mgn:{REGION}:{ACCOUNT_ID}:source-server/{source_server_id}",
                "isArchived": False,
                "sourceProperties": {"identificationHints": {"hostname": hostname}},
            }
            if instance_id:
                source_server["launchedInstance"] = {"ec2InstanceID": instance_id, "jobID": job_id, "firstBoot": "SUCCEEDED"}
            self.source_servers[source_server_id] = source_server

    def _answer(self, path: str, request: dict) -> dict:
        operation = _OPERATIONS.get(path)
        if operation is None:
            raise KeyError(path)
        _validate(operation.input_shape, request, f"{operation.name} request")
        filters = request.get("filters") or {}
        with self._lock:
            if operation.name == "DescribeJobs":
                wanted = filters.get("jobIDs")
                items = [job for job_id, job in self.jobs.items() if not wanted or job_id in wanted]
            else:
                wanted = filters.get("sourceServerIDs")
                items = [server for server_id, server in self.source_servers.items() if not wanted or server_id in wanted]
            response = {"items": json.loads(json.dumps(items))}
        _validate(operation.output_shape, response, f"{operation.name} response")
        return response

    def _handler_class(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                    stand_in.requests.append((self.path, request))
                    self._send(200, stand_in._answer(self.path, request), None)
                except KeyError:
                    self._send(404, {"message": f"operation {self.path} is not served by the local MGN stand-in"}, "ResourceNotFoundException")
                except (MgnShapeError, ValueError) as error:
                    self._send(400, {"message": str(error)}, "ValidationException")

            def _send(self, status: int, body: dict, error_type: str | None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler
