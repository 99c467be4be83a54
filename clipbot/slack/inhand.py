"""Acknowledgements before work: Socket Mode envelopes received and not yet acknowledged.

Acknowledging takes a fraction of a millisecond of Python; the work after it takes milliseconds
and shares the one interpreter (the GIL) and the machine's cores. In a burst (200 commands at
once) the work of the first commands would take turns from the acknowledgements of the last.
So the listener pool's work waits, before it starts, until no envelope is waiting for its
acknowledgement (`InHand.wait`, at most `MAX_WAIT_S`): every envelope of a burst is acknowledged
first, then the work runs. Work already running is not held up.

`AcknowledgingHandler` is Bolt's Socket Mode handler reporting both ends: slack_sdk's
`on_message_listeners` hear each frame as it is read (the earliest public hook), and Bolt's
`handle` returns once the acknowledgement is sent; it also sends acknowledgements without
Nagle's delay. Over HTTP nothing is reported, so nothing
waits: each request is its own connection, answered as soon as it is dispatched.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

MAX_WAIT_S = 1.0  # the longest work waits for acknowledgements (a steady stream never starves it)
FORGET_S = 3.0  # Slack's acknowledgement deadline: an envelope older than this is not waited for

# The envelope's own id: a quote inside the payload arrives escaped, so only the top level matches.
_ENVELOPE_ID = re.compile(r'"envelope_id"\s*:\s*"([^"]+)"')


class InHand:
    """Envelopes received and not yet acknowledged, by envelope_id (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._received: dict[str, float] = {}  # envelope_id -> when it came
        self._early: dict[str, float] = {}  # acknowledged before its arrival was noted
        self._changed = threading.Condition()

    def received(self, frame: str) -> None:
        """A frame came in (slack_sdk calls this after queueing it): notes an envelope."""
        found = _ENVELOPE_ID.search(frame)
        if found is None:
            return  # hello, disconnect: nothing to acknowledge
        with self._changed:
            if self._early.pop(found[1], None) is None:
                self._received[found[1]] = self._clock()

    def acknowledged(self, envelope_id: str) -> None:
        """The envelope's acknowledgement has been sent (or given up)."""
        with self._changed:
            if self._received.pop(envelope_id, None) is None:
                self._early[envelope_id] = self._clock()
            if not self._received:
                self._changed.notify_all()

    def wait(self, timeout_s: float = MAX_WAIT_S) -> bool:
        """Waits until no envelope (younger than FORGET_S) waits for its acknowledgement, at
        most `timeout_s`; whether that happened."""
        deadline = self._clock() + timeout_s
        with self._changed:
            while self._received:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                if not self._changed.wait(min(left, 0.1)):
                    self._forget_old()  # one never acknowledged must not hold work back
            return True

    def _forget_old(self) -> None:
        too_old = self._clock() - FORGET_S
        for notes in (self._received, self._early):
            for envelope_id in [e for e, at in notes.items() if at < too_old]:
                del notes[envelope_id]


class AcknowledgingHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, telling `in_hand` of each envelope received and acknowledged,
    and sending each acknowledgement at once (TCP_NODELAY)."""

    def __init__(self, app: App, app_token: str, in_hand: InHand, concurrency: int) -> None:
        super().__init__(app, app_token, concurrency=concurrency)
        self._in_hand = in_hand
        self._no_delay_on: object = None  # the connection's socket already set to TCP_NODELAY
        self.client.on_message_listeners.append(self._heard)

    def _heard(self, frame: str) -> None:
        self._no_delay()
        self._in_hand.received(frame)

    def _no_delay(self) -> None:
        """Acknowledgements are small frames sent one after the other: with Nagle's algorithm
        each waits until Slack has acknowledged the one before (up to a delayed ACK, 40 ms on
        Linux). slack_sdk sets TCP_NODELAY only behind a proxy; this sets it on each new
        connection, at its first frame (its hello)."""
        sock = getattr(self.client.current_session, "sock", None)
        if sock is None or sock is self._no_delay_on:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._no_delay_on = sock

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            super().handle(client, req)
        finally:
            self._in_hand.acknowledged(req.envelope_id)
