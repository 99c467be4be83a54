"""Acknowledge at once, act afterwards: every listener's work runs after its acknowledgement.

Slack wants each command, button press, modal submission and event acknowledged within 3
seconds, and delivers again what it thinks was not. In Socket Mode the acknowledgement frame goes
out when `App.dispatch` returns; over HTTP it is the response. So each listener is split in two,
as Bolt's lazy listeners split them:

- the acknowledgement does no I/O at all (no store write, no Slack or Rhombus call) and runs in
  the thread that dispatches the request: the app runs with `process_before_response=True`, so
  Bolt neither queues the listener in a pool nor polls for its `ack()` every 10 ms;
- the work is queued in the listener pool and starts with the gate (clipbot.slack.gate: the
  delivery key written to the store, the guest check); its answer goes through `respond`
  (the response_url, with clipbot.slack.answering's chat.postEphemeral fallback).

Work that waits on Rhombus (a listing, a share link, a video, the Home tab's clips) runs in a
lane of its own (`Lanes.rhombus`), so a hung or throttling Rhombus, which can hold a request for
over a minute, never holds up help, status, triage or the gate behind it.

A burst of requests is thus acknowledged as fast as Bolt can dispatch them, however long the work
takes. A stop waits for the work acknowledged (queued included); work not begun a few seconds
after the stop is not begun, and its person is told to try again. A process that dies between
the acknowledgement and the work loses that request's work (Slack, acknowledged, does not send it
again): the person sees no answer and asks again. A request that arrives once the pools are shut
is not acknowledged, so Slack delivers it again (to another replica, or after the restart).
Bolt's own lazy listeners are not used: they deep-copy the request for a FaaS re-dispatch, and
its context holds the WebClient (whose retry handlers hold the stop's locks).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest, Respond

from clipbot.slack.answering import CheckedRespond
from clipbot.slack.gate import Gate
from clipbot.slack.inhand import InHand
from clipbot.stopping import Stopped
from clipbot.store import StoreUnavailable

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong inside clipbot; it is logged. Please try again."
STORE_DOWN = "clipbot cannot reach its database right now; please try again in a minute."
RESTARTING = "clipbot is restarting and did not get to this; please try again in a minute."
DRAIN_AT_ONCE = 16  # people told at once that their queued work will not be done

# A listener's work: the request's body and its `respond`, after the acknowledgement.
Work = Callable[[dict[str, Any], Respond], None]
Listener = Callable[[Ack, dict[str, Any], BoltContext, BoltRequest, Respond], None]


class NotTaken(Exception):
    """The listener pools are shut (the process is stopping): the request is left
    unacknowledged, so Slack delivers it again."""


class Lanes:
    """Where listeners' work runs: `quick` (the gate, and work needing only the store and
    Slack) and `rhombus` (work that waits on Rhombus; None: the quick lane). `too_late` says
    when work not begun should no longer begin (the process is stopping); `drain` tells the
    people whose work is still queued then."""

    def __init__(
        self,
        quick: Executor | None = None,
        rhombus: Executor | None = None,
        too_late: Callable[[], bool] = lambda: False,
        sparing: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.quick = quick or ThreadPoolExecutor(thread_name_prefix="listener")
        self.rhombus = rhombus or self.quick
        self.too_late = too_late
        self._sparing = sparing  # answers to people made while stopping are not cut
        self._queued: dict[int, tuple[dict[str, Any], Respond]] = {}  # id -> (body, respond)
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def submit(
        self,
        lane: Executor,
        step: Callable[..., object],
        body: dict[str, Any],
        respond: Respond,
        *args: Any,
    ) -> None:
        """Queues `step(body, respond, *args)` in `lane`, or refuses (NotTaken) once it is
        shut. It does not begin if `drain` came first or it is `too_late` by then."""
        ticket = next(self._ids)
        with self._lock:
            self._queued[ticket] = (body, respond)
        try:
            lane.submit(self._begin, ticket, step, body, respond, *args)
        except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
            with self._lock:
                del self._queued[ticket]
            raise NotTaken(str(exc)) from None

    def drain(self) -> int:
        """Tells each person whose work is still queued that it will not be done (the process
        is stopping), while Slack can still be reached; how many were told."""
        with self._lock:
            left = list(self._queued.values())
            self._queued.clear()
        if left:  # side by side: each answer is a round trip to Slack, and the cut is near
            log.warning(
                "stopping: %d request(s) acknowledged earlier will not be acted on; telling"
                " each person to try again",
                len(left),
            )
            with ThreadPoolExecutor(DRAIN_AT_ONCE, thread_name_prefix="drain") as telling:
                for body, respond in left:
                    telling.submit(self._not_begun, body, respond)
        return len(left)

    def _begin(
        self,
        ticket: int,
        step: Callable[..., object],
        body: dict[str, Any],
        respond: Respond,
        *args: Any,
    ) -> None:
        with self._lock:
            if self._queued.pop(ticket, None) is None:
                return  # drained: its person was told
        if self.too_late():
            self._not_begun(body, respond)
            return
        try:
            step(body, respond, *args)
        except Exception as error:  # the pool would keep it in a Future no one reads
            with self._sparing():  # a Stopped one is told after the cut too
                failed(error, body, respond)

    def _not_begun(self, body: dict[str, Any], respond: Respond) -> None:
        with self._sparing():
            not_begun(body, respond)


class AckFirst:
    """Turns work into a Bolt listener that acknowledges, then has the work done once no
    envelope `in_hand` waits for its acknowledgement and `gate` admits the delivery. Used as a
    decorator under `@app.command(...)` and the like: `after_ack` for work in the quick lane,
    `after_ack.rhombus` for work in the Rhombus lane."""

    def __init__(self, lanes: Lanes, gate: Gate, in_hand: InHand) -> None:
        self._lanes, self._gate, self._in_hand = lanes, gate, in_hand

    def __call__(self, work: Work) -> Listener:
        return self._listener(work, rhombus=False)

    def rhombus(self, work: Work) -> Listener:
        """Like the decorator itself, for work that waits on Rhombus: the gate runs in the quick
        lane, the work in the Rhombus lane."""
        return self._listener(work, rhombus=True)

    def later(self, body: dict[str, Any], respond: Respond, step: Callable[[], object]) -> None:
        """Hands the rest of a quick-lane listener's work, `step`, to the Rhombus lane."""
        self._lanes.submit(self._lanes.rhombus, lambda body, respond: step(), body, respond)

    def _listener(self, work: Work, *, rhombus: bool) -> Listener:
        def acknowledge(
            ack: Ack,
            body: dict[str, Any],
            context: BoltContext,
            request: BoltRequest,
            respond: Respond,
        ) -> None:
            retry = (request.headers.get("x-slack-retry-num") or [""])[0] or None
            # Queued before the acknowledgement is sent (it goes once this returns); a pool
            # that is shut refuses, and the request is left for Slack to deliver again.
            lanes = self._lanes
            lanes.submit(
                lanes.quick, self._act, body, respond, work, context.user_id or "", retry, rhombus
            )
            ack()

        acknowledge.__name__ = acknowledge.__qualname__ = work.__name__  # Bolt's logs name it
        return acknowledge

    def _act(
        self,
        body: dict[str, Any],
        respond: Respond,
        work: Work,
        user: str,
        retry: str | None,
        rhombus: bool,
    ) -> None:
        self._in_hand.wait()  # a burst's acknowledgements go first (clipbot.slack.inhand)
        if not self._gate.admits(body, user, retry, respond):
            return
        if rhombus:
            self._lanes.submit(self._lanes.rhombus, work, body, respond)
        else:
            work(body, respond)


def not_begun(body: dict[str, Any], respond: Respond | None) -> None:
    """Work left undone because the process is stopping: logged, and the person told (when
    the request can be answered) to try again."""
    log.info("stopping: a %s acknowledged earlier was not acted on", _kind(body))
    _tell(body, respond, RESTARTING)


def failed(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    """A listener failed: logged (a traceback only for the unexpected), and the person told
    when the request can be answered (clipbot.slack.answering's `respond` does not raise)."""
    if isinstance(error, NotTaken):
        log.info("stopping: a %s was not taken; Slack will deliver it again", _kind(body))
        return
    if isinstance(error, Stopped):  # a wait or a call cut by the stop
        log.warning("stopping: a %s was cut short", _kind(body))
        _tell(body, respond, RESTARTING)
        return
    down = isinstance(error, StoreUnavailable)
    if down:
        log.error("listener failed: %s", error)
    else:
        log.error("listener failed: %s", type(error).__name__, exc_info=error)
    _tell(body, respond, STORE_DOWN if down else INTERNAL_ERROR)


def _tell(body: dict[str, Any], respond: Respond | None, text: str) -> None:
    """Says `text` to the person, when the request can be answered: through its response_url,
    or to a note form's submitter (clipbot.slack.answering's `respond` does either)."""
    if isinstance(respond, CheckedRespond):
        respond(text=text, response_type="ephemeral", replace_original=False)


def _kind(body: dict[str, Any]) -> str:
    """What a request is, for the log: `/clips`, a button press, … (nothing the user typed)."""
    if body.get("command"):
        return "command"
    return str(body.get("type") or (body.get("event") or {}).get("type") or "request")
