"""Serving a WSGI app on a port of all interfaces, in a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

log = logging.getLogger(__name__)


def serve(app: WSGIApplication, port: int, name: str) -> Callable[[], None]:
    """Starts serving `app` on `port` (thread `name`); the function that stops it. OSError when
    the port cannot be bound."""
    server = make_server(
        "0.0.0.0", port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()

    def close() -> None:
        server.shutdown()
        server.server_close()

    return close


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s", format % args)
