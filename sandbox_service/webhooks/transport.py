"""One HTTP POST to a validated address, with the standard library only (no runtime dependency).

- The socket connects to an address `policy.callback_target` validated, never to the name: no second DNS
  lookup, so no rebinding between the check and the connection. The name still goes in the Host header and, for
  https, in SNI and the certificate check.
- Redirects are never followed (http.client does not follow them): a 3xx is an answer like any other non-2xx.
- The timeout bounds the whole exchange, not each read: a watchdog shuts the socket down when it runs out, so a
  receiver that drips its answer a byte at a time cannot hold a worker.
- At most RESPONSE_EXCERPT_BYTES of the response body are read (of error answers only, for the message).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox_service.webhooks.policy import CallbackTarget

RESPONSE_EXCERPT_BYTES = 2048


class DeliveryError(Exception):
    """The request did not get a complete HTTP answer in time (refused, reset, timed out, TLS failure)."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    excerpt: bytes  # the beginning of the body: non-2xx answers only


class _Watchdog:
    """Shuts down the watched socket when the deadline passes; a blocked send or recv then returns at once."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.expired = threading.Event()
        self.sock: socket.socket | None = None
        self.timer = threading.Timer(timeout, self._cut)
        self.timer.daemon = True

    def _cut(self) -> None:
        self.expired.set()
        sock = self.sock
        if sock is not None:
            try:
                # The plain socket's shutdown, on the descriptor: SSLSocket's own is not safe from another thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired.is_set():
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> socket.socket:
        # Set the socket, then look at the flag (_cut does the reverse): whichever runs second sees the other.
        self.sock = sock
        self.remaining()
        return sock

    def connect(self, addresses: tuple[str, ...], port: int) -> socket.socket:
        error: OSError = OSError("no address to connect to")
        for address in addresses:
            try:
                return self.watch(socket.create_connection((address, port), self.remaining()))
            except TimeoutError:
                raise
            except OSError as e:
                error = e
        raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: CallbackTarget, watchdog: _Watchdog, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.addresses = target.addresses
        self.watchdog = watchdog

    def connect(self) -> None:
        self.sock = self.watchdog.connect(self.addresses, self.port)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: CallbackTarget, watchdog: _Watchdog, timeout: float) -> None:
        self.tls = ssl.create_default_context()  # the certificate is checked against target.host
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.addresses = target.addresses
        self.watchdog = watchdog

    def connect(self) -> None:
        raw = self.watchdog.connect(self.addresses, self.port)
        sock = self.tls.wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
        self.sock = self.watchdog.watch(sock)  # wrapping took over the descriptor: watch the new socket
        sock.do_handshake()


def post(target: CallbackTarget, body: bytes, headers: Mapping[str, str], timeout: float,
         method: str = "POST") -> Response:  # fmt: skip
    """Send `body` to the target (POST, or PUT for Judge0's callbacks) within `timeout` seconds; the answer's
    status, or DeliveryError."""
    watchdog = _Watchdog(timeout)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = kind(target, watchdog, timeout)
    watchdog.timer.start()
    try:
        conn.request(method, target.path, body=body, headers={**headers, "Connection": "close"})
        response = conn.getresponse()
        ok = 200 <= response.status < 300
        excerpt = b"" if ok else response.read(RESPONSE_EXCERPT_BYTES)
        if watchdog.expired.is_set():  # a cut in the headers reads as their end: the answer is not trustworthy
            raise TimeoutError("deadline passed")
        return Response(response.status, response.reason, excerpt)
    except (OSError, http.client.HTTPException) as e:
        if watchdog.expired.is_set() or isinstance(e, TimeoutError):
            raise DeliveryError(f"timed out after {timeout:g} s") from e
        raise DeliveryError(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from e
    finally:
        watchdog.timer.cancel()
        conn.close()
