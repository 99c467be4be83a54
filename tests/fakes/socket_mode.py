"""A fake Slack Socket Mode endpoint: a WebSocket server that sends envelopes and records acks."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from typing import Any

from websockets.sync.server import ServerConnection, serve

# The server thread logs after a test's capture has closed; nothing in it is news to a test.
_QUIET = logging.getLogger("tests.fakes.socket_mode")
_QUIET.propagate = False
_QUIET.addHandler(logging.NullHandler())


class FakeSocketMode:
    """What apps.connections.open points the app at; tests push envelopes through it."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []
        self.acks: list[dict[str, Any]] = []
        self.sent_at: dict[str, float] = {}  # envelope_id -> time.monotonic() when sent
        self.acked_at: dict[str, float] = {}  # envelope_id -> when its ack arrived
        self._ids = itertools.count(1)
        self._server = serve(self._handle, "127.0.0.1", 0, logger=_QUIET)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    def start(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def _handle(self, connection: ServerConnection) -> None:
        self.connections.append(connection)
        connection.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        for raw in connection:
            message = json.loads(raw)
            if "envelope_id" in message:
                self.acked_at.setdefault(message["envelope_id"], time.monotonic())
                self.acks.append(message)

    def send(self, kind: str, payload: dict[str, Any], retry_attempt: int = 0) -> str:
        """Sends an envelope over the newest connection (`retry_attempt` > 0: Slack delivering
        it again, as it does when no ack came in time); its envelope_id."""
        envelope_id = f"env-{next(self._ids)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        self.sent_at[envelope_id] = time.monotonic()
        self.connections[-1].send(json.dumps(envelope))
        return envelope_id

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        return next((a for a in self.acks if a["envelope_id"] == envelope_id), None)
