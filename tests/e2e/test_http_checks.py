"""The http check against hostile and redirecting servers on the target's loopback address."""

from __future__ import annotations

import http.server
import shutil
import threading

import pytest

from migration_validator import verdicts
from migration_validator.checks import run_suite
from migration_validator.verdicts import CheckStatus

from helpers import make_suite, result_of, trickling_listener

pytestmark = pytest.mark.timeout(60)


class RedirectingHandler(http.server.BaseHTTPRequestHandler):
    """/loop-a and /loop-b redirect to each other forever; /old moves to /new; /away leaves the host."""

    routes = {
        "/loop-a": (302, "/loop-b"),
        "/loop-b": (302, "/loop-a"),
        "/old": (301, "/new"),
        "/away": (302, "http://example.com/"),
    }

    def do_GET(self) -> None:
        if self.path in self.routes:
            status, location = self.routes[self.path]
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f"path={self.path} host={self.headers.get('Host')} token={self.headers.get('X-Token')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", "fixture")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def web_port(linux_host):
    server = http.server.ThreadingHTTPServer((linux_host.address, 0), RedirectingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def http_check(check_id: str, port: int, **fields) -> dict:
    return {"id": check_id, "type": "http", "port": port, "timeout_seconds": 5, **fields}


def test_redirect_loop_bounded(tmp_path, linux_target, web_port):
    suite = make_suite(tmp_path, http_check("loop", web_port, path="/loop-a", follow_redirects=4))

    run = run_suite(suite, linux_target, None)

    loop = result_of(run, "loop")
    assert loop.reason == verdicts.TOO_MANY_REDIRECTS
    assert loop.details["redirects"] == 4
    assert "more than 4 redirects" in loop.message


def test_redirect_followed_on_instance(tmp_path, linux_target, web_port):
    suite = make_suite(tmp_path, http_check("moved", web_port, path="/old", follow_redirects=2, expect={"body_contains": "path=/new"}))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "moved").status == CheckStatus.PASSED
    assert result_of(run, "moved").details["redirects"] == 1


def test_redirect_not_followed_by_default(tmp_path, linux_target, web_port):
    suite = make_suite(tmp_path, http_check("moved", web_port, path="/old", expect={"status": 301}))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "moved").status == CheckStatus.PASSED


def test_redirect_to_other_host_not_followed(tmp_path, linux_target, web_port):
    suite = make_suite(tmp_path, http_check("away", web_port, path="/away", follow_redirects=3))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "away").reason == verdicts.REDIRECT_OFF_TARGET
    assert "http://example.com/" in result_of(run, "away").message


def test_request_and_response_headers(tmp_path, linux_target, web_port):
    suite = make_suite(
        tmp_path,
        http_check(
            "virtual-host", web_port, path="/page",
            headers={"Host": "shop.example.internal", "X-Token": "abc"},
            expect={
                "body": {"contains": ["host=shop.example.internal", "token=abc"]},
                "headers": {"X-Served-By": {"equals": "fixture"}, "X-Debug": {"not_regex": "."}},
            },
        ),
        http_check("wrong-header", web_port, expect={"headers": {"X-Served-By": {"regex": "^nginx"}}}),
    )

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "virtual-host").status == CheckStatus.PASSED
    assert result_of(run, "wrong-header").reason == verdicts.HEADER_MISMATCH


def test_head_request(tmp_path, linux_target, web_port):
    suite = make_suite(tmp_path, http_check("head", web_port, method="HEAD", expect={"status": 204}))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "head").status == CheckStatus.PASSED


@pytest.fixture
def trickling_headers(linux_host):
    """A server that sends a status line, then one header byte every 0.1 s, for up to 20 s."""
    with trickling_listener(linux_host.address, b"HTTP/1.1 200 OK\r\n") as port:
        yield port


def test_trickling_headers_end_at_deadline(tmp_path, linux_target, trickling_headers):
    suite = make_suite(tmp_path, http_check("slow-headers", trickling_headers, timeout_seconds=1))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "slow-headers").reason == verdicts.TIMEOUT


def test_insecure_tls_recorded(tmp_path, linux_target, https_server):
    port, _ = https_server
    suite = make_suite(tmp_path, http_check("tls", port, scheme="https", tls={"insecure": True}))

    run = run_suite(suite, linux_target, None)

    tls = result_of(run, "tls")
    assert tls.status == CheckStatus.PASSED
    assert tls.details["tls_verified"] is False
    assert "not verified" in tls.message


def test_verified_tls_recorded(tmp_path, linux_target, https_server):
    port, cert_path = https_server
    (tmp_path / "suites").mkdir()
    shutil.copy(cert_path, tmp_path / "suites" / "internal-ca.pem")
    suite = make_suite(tmp_path, http_check("tls", port, scheme="https", tls={"ca_bundle": "internal-ca.pem"}))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "tls").status == CheckStatus.PASSED
    assert result_of(run, "tls").details["tls_verified"] is True


def test_ca_bundle_wrong_server_name(tmp_path, linux_target, https_server):
    port, cert_path = https_server
    (tmp_path / "suites").mkdir()
    shutil.copy(cert_path, tmp_path / "suites" / "internal-ca.pem")
    suite = make_suite(tmp_path, http_check("tls", port, scheme="https", tls={"ca_bundle": "internal-ca.pem", "server_name": "shop.example.internal"}))

    run = run_suite(suite, linux_target, None)

    assert result_of(run, "tls").reason == verdicts.TLS_INVALID
