"""A threaded HTTP server on loopback with JSON helpers, the base of every fake."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO
from urllib.parse import parse_qsl


@dataclass
class Reply:
    """What a fake answers: status, body bytes, headers, and an optional delay before answering.

    `drop`: close the connection instead of answering (the answer is lost on the way back).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Iterable[bytes] | None = None  # a body sent piece by piece instead of `body`
    drop: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


Route = Callable[[str, str, dict[str, str], bytes], Reply]
# Reads a request body as it arrives (path, headers, chunks), for bodies too big to hold.
Sink = Callable[[str, dict[str, str], Iterator[bytes]], Reply]
CHUNK = 256 * 1024


def read_chunks(stream: BinaryIO, length: int) -> Iterator[bytes]:
    """`length` bytes of `stream`, a chunk at a time."""
    while length > 0:
        chunk = stream.read(min(CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)
        yield chunk


class LoopbackServer:
    """Serves `route(method, path, headers, body)` on 127.0.0.1 in a background thread."""

    def __init__(self, route: Route, sink: Sink | None = None, sink_prefix: str = "") -> None:
        """`sink`, when given, takes the bodies of requests whose path starts with `sink_prefix`."""
        route_ = route
        stopping = threading.Event()
        self._stopping = stopping

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every keep-alive answer back about 40 ms.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if sink is not None and self.path.startswith(sink_prefix):
                    reply = sink(self.path, headers, read_chunks(self.rfile, length))
                else:
                    body = self.rfile.read(length) if length else b""
                    if len(body) < length:
                        # The client died mid-request (a SIGKILLed clipbot): like the real
                        # services, act on nothing and answer nothing.
                        self.close_connection = True
                        return
                    reply = route_(self.command, self.path, headers, body)
                if reply.delay:
                    stopping.wait(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                else:
                    self._send_chunks(reply)

            def _send_chunks(self, reply: Reply) -> None:
                """Streams `reply.chunks`; without a Content-Length, in chunked encoding."""
                framed = "Content-Length" not in reply.headers
                if framed:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in reply.chunks or ():
                        if stopping.is_set():
                            break
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if framed else chunk)
                    if framed:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    self.close_connection = True  # the client stopped reading (at its limit)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many clients connecting at once (benchmarks) all wait

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (a timeout test) is expected, not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


def plain(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), {"Content-Type": "text/plain"})


def arguments(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if headers.get("content-type", "").startswith("application/json"):
        data = json.loads(body)
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode()))


def json_field(value: Any) -> Any:
    """A field slack_sdk may send either as JSON text (forms) or as a value (JSON bodies)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
