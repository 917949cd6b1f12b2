"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading

import pytest

from helpers import self_signed_certificate


@pytest.fixture
def no_connections(monkeypatch):
    """Fail the test if anything opens a TCP connection."""

    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def https_server(tmp_path, linux_host):
    """An HTTPS server with a self-signed certificate on the target's address; yields its port and the certificate file."""
    cert_path, key_path = self_signed_certificate(tmp_path, linux_host.address)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secure")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((linux_host.address, 0), Handler)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert_path
    server.shutdown()
    server.server_close()
