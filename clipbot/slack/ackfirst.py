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

A burst of requests is thus acknowledged as fast as Bolt can dispatch them, however long the work
takes. A process that dies between the two loses that request's work (Slack, acknowledged, does
not send it again): the person sees no answer and asks again. Bolt's own lazy listeners are not
used: they deep-copy the request for a FaaS re-dispatch, and its context holds the WebClient
(whose retry handlers hold the stop's locks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest, Respond

from clipbot.slack.gate import Gate
from clipbot.slack.inhand import InHand
from clipbot.store import StoreUnavailable

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong inside clipbot; it is logged. Please try again."
STORE_DOWN = "clipbot cannot reach its database right now; please try again in a minute."

# A listener's work: the request's body and its `respond`, after the acknowledgement.
Work = Callable[[dict[str, Any], Respond], None]
Listener = Callable[[Ack, dict[str, Any], BoltContext, BoltRequest, Respond], None]


class AckFirst:
    """Turns work into a Bolt listener that acknowledges, then has the work done in `pool`, once
    no envelope `in_hand` waits for its acknowledgement and `gate` admits the delivery. Used as
    a decorator under `@app.command(...)` and the like."""

    def __init__(self, pool: Executor, gate: Gate, in_hand: InHand) -> None:
        self._pool, self._gate, self._in_hand = pool, gate, in_hand

    def __call__(self, work: Work) -> Listener:
        def acknowledge(
            ack: Ack,
            body: dict[str, Any],
            context: BoltContext,
            request: BoltRequest,
            respond: Respond,
        ) -> None:
            ack()
            retry = (request.headers.get("x-slack-retry-num") or [""])[0] or None
            self._pool.submit(self._act, work, body, context.user_id or "", retry, respond)

        acknowledge.__name__ = acknowledge.__qualname__ = work.__name__  # Bolt's logs name it
        return acknowledge

    def _act(
        self, work: Work, body: dict[str, Any], user: str, retry: str | None, respond: Respond
    ) -> None:
        self._in_hand.wait()  # a burst's acknowledgements go first (clipbot.slack.inhand)
        try:
            if self._gate.admits(body, user, retry, respond):
                work(body, respond)
        except Exception as error:  # the pool would keep it in a Future no one reads
            failed(error, body, respond)


def failed(error: Exception, body: dict[str, Any], respond: Respond | None) -> None:
    """A listener failed: logged (a traceback only for the unexpected), and the person told
    when the request has a response_url (clipbot.slack.answering's `respond` does not raise)."""
    down = isinstance(error, StoreUnavailable)
    if down:
        log.error("listener failed: %s", error)
    else:
        log.error("listener failed: %s", type(error).__name__, exc_info=error)
    if respond is not None and body.get("response_url"):
        text = STORE_DOWN if down else INTERNAL_ERROR
        respond(text=text, response_type="ephemeral", replace_original=False)
