"""Stopping on time: one stop signal that every wait wakes on and that cuts open connections.

SIGTERM/SIGINT must end the process within `GRACE_S` seconds whatever Rhombus or Slack are
doing. Three things make that hold: waits (backoff, Retry-After, pacing) are waits on the stop
rather than sleeps, and give up once it comes; HTTP calls still in flight `CUT_AFTER_S` after the
stop (made through `Stop.transport()` or urllib's opener) have their connections shut down, so a
call stalled on a silent server ends then, while quicker ones (a listener's answer) finish; and
whatever still runs when the grace is over is abandoned by `Stop.watchdog`. Abandoning is safe:
the store writes each card down before it is sent, so a later start settles anything in doubt.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import logging
import os
import socket
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)

GRACE_S = 8.0  # from the signal to the end of the process, inside the contract's 10 s
CUT_AFTER_S = 5.0  # from the signal to cutting the HTTP calls still in flight
# A listener's work not begun this long after the signal is not begun: its person is told to
# try again while Slack can still be reached.
START_WITHIN_S = 3.0

# httpcore's trace events that hand over a freshly opened network stream.
_NEW_STREAM = ("connection.connect_tcp.complete", "connection.start_tls.complete")


class Stopped(Exception):
    """The process is stopping: the work in hand is left for the next start."""


class Stop:
    """The process-wide stop: `set()` once; waits wake, and HTTP calls still in flight
    `cut_after_s` later are cut."""

    def __init__(self, grace_s: float = GRACE_S, cut_after_s: float = CUT_AFTER_S) -> None:
        self.grace_s, self.cut_after_s = grace_s, cut_after_s
        self._event = threading.Event()
        self._cut = False  # set once in-flight connections have been cut
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._spared = threading.local()  # .on: this thread's new connections are not cut
        self.at: float | None = None  # time.monotonic() of the stop

    @property
    def event(self) -> threading.Event:
        return self._event

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float | None = None) -> bool:
        """Sleeps up to `seconds` (None: until the stop); True when stopping."""
        return self._event.wait(seconds)

    def sleep(self, seconds: float) -> None:
        """A wait before trying again (backoff, Retry-After): Stopped once stopping."""
        if self._event.wait(seconds):
            raise Stopped("stopping: not trying again")

    def set(self) -> None:
        """Stops: wakes every wait now, and cuts the connections still open `cut_after_s`
        later."""
        with self._lock:
            if self.at is not None:
                return
            self.at = time.monotonic()
            self._event.set()
        timer = threading.Timer(self.cut_after_s, self.cut)
        timer.daemon = True
        timer.start()

    @property
    def cut_done(self) -> bool:
        """Whether in-flight connections have been cut (`cut_after_s` after the stop)."""
        return self._cut

    def cut(self) -> None:
        """Shuts down every connection made through `transport()` or urllib's opener; later
        ones are shut at once."""
        with self._lock:
            self._cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _cut(sock)

    def too_late_to_start(self) -> bool:
        """Whether work not begun yet should no longer begin (START_WITHIN_S after the stop)."""
        return self.at is not None and self.until_too_late() == 0.0

    def until_too_late(self) -> float:
        """Seconds until work not begun should no longer begin (all of START_WITHIN_S before
        the stop)."""
        if self.at is None:
            return START_WITHIN_S
        return max(0.0, START_WITHIN_S - (time.monotonic() - self.at))

    def remaining(self) -> float:
        """Seconds of grace left (all of it before the stop)."""
        if self.at is None:
            return self.grace_s
        return max(0.0, self.grace_s - (time.monotonic() - self.at))

    def transport(self, **options: Any) -> httpx.HTTPTransport:
        """An httpx transport whose connections `cut()` shuts (options as httpx.HTTPTransport)."""
        return _CuttableTransport(self, **options)

    def track(self, event: str, info: dict[str, Any]) -> None:
        """httpcore `trace` hook: remembers each new connection's socket (cut at once if late)."""
        if event not in _NEW_STREAM:
            return
        sock = info["return_value"].get_extra_info("socket")
        if sock is not None:
            self._adopt(sock)

    def install_urllib_opener(self) -> None:
        """Makes urllib open connections that `cut()` shuts. Process-wide (for `clipbot run`):
        slack_sdk's Web API and response_url calls go through urllib's installed opener."""
        adopt = self._adopt

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                adopt(self.sock)

        class TlsConnection(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                adopt(self.sock)

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Connection, req)

        class Https(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(TlsConnection, req, context=self._context)  # type: ignore[attr-defined]

        urllib.request.install_opener(urllib.request.build_opener(Http, Https))

    @contextlib.contextmanager
    def sparing(self) -> Iterator[None]:
        """Connections this thread opens meanwhile are not cut, even after the cut: a short
        answer to a person (their work was cut, or will not be done) still goes out; the
        watchdog bounds it like everything else."""
        self._spared.on = True
        try:
            yield
        finally:
            self._spared.on = False

    def _adopt(self, sock: socket.socket) -> None:
        """Remembers a connection's socket for `cut()` (shut at once if that already ran),
        unless the thread is `sparing`."""
        if getattr(self._spared, "on", False):
            return
        with self._lock:
            self._sockets.add(sock)
            late = self._cut
        if late:
            _cut(sock)

    def watchdog(self, done: threading.Event, exit: Callable[[int], object] = os._exit) -> None:
        """Starts a thread that ends the process with code 1 if `done` is not set within the
        grace after the stop: the last resort when something cannot be woken (a stalled Slack
        call, say)."""

        def watch() -> None:
            self.wait()
            if not done.wait(self.remaining()):
                abandon(f"stopping took longer than {self.grace_s:g}s", exit)

        threading.Thread(target=watch, name="stop-watchdog", daemon=True).start()


def abandon(reason: str, exit: Callable[[int], object] = os._exit) -> None:
    """Ends the process now with code 1, saying why; what still runs is left for the next
    start to settle."""
    log.error("%s; exiting without waiting for the work still running", reason)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(ValueError, OSError):  # a stream already closed: nothing to do
            handler.flush()
    exit(1)


class _CuttableTransport(httpx.HTTPTransport):
    def __init__(self, stop: Stop, **options: Any) -> None:
        super().__init__(**options)
        self._stop = stop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._stop.cut_done:
            raise Stopped("stopping: no new requests")
        request.extensions = {**request.extensions, "trace": self._stop.track}
        return super().handle_request(request)


# Whether this thread's Slack requests may still be sent again after a 429 (None: always). The
# poll cycle sets it to "this replica still leads": a leader that lost its lease while waiting
# out a Retry-After must not send the card again, since the new leader owns it by then.
_RESEND: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "resend", default=None
)


@contextlib.contextmanager
def resending_while(allowed: Callable[[], bool]) -> Iterator[None]:
    """Within the block, this thread's requests answered 429 are sent again only while
    `allowed()` (checked after the Retry-After wait)."""
    token = _RESEND.set(allowed)
    try:
        yield
    finally:
        _RESEND.reset(token)


def _may_resend() -> bool:
    allowed = _RESEND.get()
    return allowed is None or allowed()


class RateLimitRetry(RetryHandler):
    """slack_sdk retry on HTTP 429 that waits Slack's Retry-After on the stop, not in a sleep,
    and gives up once stopping (or once `resending_while`'s check fails)."""

    def __init__(self, stop: Stop, max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._stop = stop

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return not self._stop.is_set() and response is not None and response.status_code == 429

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        headers = {k.lower(): v for k, v in (response.headers if response else {}).items()}
        try:
            delay = float(headers.get("retry-after", ["1"])[0])
        except ValueError:
            delay = 1.0
        # After a stop the 429 stands as the answer: slack_sdk raises it as `ratelimited`.
        # So does a lost lease (see resending_while).
        state.next_attempt_requested = not self._stop.wait(delay) and _may_resend()
        state.increment_current_attempt()


class UntilStop(RetryHandler):
    """Another slack_sdk retry handler's decisions, given up once stopping, with its backoff
    waited on the stop rather than slept."""

    def __init__(self, inner: RetryHandler, stop: Stop) -> None:
        super().__init__(
            max_retry_count=inner.max_retry_count, interval_calculator=inner.interval_calculator
        )
        self._inner, self._stop = inner, stop

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if self._stop.is_set():
            return False
        return self._inner._can_retry(state=state, request=request, response=response, error=error)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        delay = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        state.next_attempt_requested = not self._stop.wait(delay)
        state.increment_current_attempt()


def _cut(sock: socket.socket) -> None:
    # shutdown() (unlike close()) wakes a thread blocked reading the socket.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
