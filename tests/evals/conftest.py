"""A local HTTP server fixture for the Perspective and chat-judge client tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable

import pytest


@pytest.fixture
def fake_server():
    """``fake_server(handler)`` serves ``handler(path, body) -> (status, dict, headers)`` on
    127.0.0.1 and returns (base_url, requests_seen)."""
    servers = []

    def start(handler: Callable[[str, dict], tuple[int, Any, dict]]):
        seen: list[dict] = []

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status, reply, headers = handler(self.path, body)
                data = json.dumps(reply).encode() if not isinstance(reply, bytes) else reply
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        srv = HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}", seen

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
