"""A real HTTP server on 127.0.0.1 (random port, in a thread) that records the webhooks it receives and answers
as scripted. Used by the unit tests here and by tests/integration/sandbox_service/test_webhooks.py."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # send the status line, then one header line every 0.1 s for this long


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        receiver = self.server.receiver
        receiver.received.append(Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body))  # fmt: skip
        answer = receiver.next_answer()
        time.sleep(answer.delay)
        if answer.drip:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            deadline = time.monotonic() + answer.drip
            while time.monotonic() < deadline:
                self.wfile.write(b"X-Drip: 1\r\n")
                self.wfile.flush()
                time.sleep(0.1)
            self.wfile.write(b"Content-Length: 0\r\n\r\n")
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_PUT = do_POST  # noqa: N815 - Judge0's callbacks are PUTs

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client hung up early (timeouts, excerpts): expected in these tests


class Receiver:
    """`with Receiver(answers=[Answer(500), Answer(200)]) as r:` ... `r.received`; after the script, `default`."""

    def __init__(self, answers: Sequence[Answer] = (), default: Answer | None = None,
                 tls: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.answers = list(answers)
        self.default = default or Answer()
        self.received: list[Received] = []
        self.server_names: list[str | None] = []  # TLS: the SNI of each handshake
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        if tls is not None:
            tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"  # as WEBHOOK_ALLOWED_HOSTS lists it
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)  # fmt: skip

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}{path}"

    def next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
