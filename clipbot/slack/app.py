"""The Bolt app factory: one place where every listener is registered."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from clipbot.slack import actions, answering, commands, home
from clipbot.slack.ackfirst import AckFirst, Lanes, failed
from clipbot.slack.deps import Deps
from clipbot.slack.gate import Gate
from clipbot.slack.inhand import InHand

log = logging.getLogger(__name__)


def build_app(
    deps: Deps,
    client: WebClient,
    signing_secret: str = "",
    lanes: Lanes | None = None,
    in_hand: InHand | None = None,
) -> App:
    """A Bolt app with clipbot's listeners; the caller picks Socket Mode or HTTP, and may own
    the thread pools the listeners' work runs in (one pool of Bolt's size otherwise) and the
    `in_hand` its Socket Mode handler reports to. Every request is acknowledged before any work
    (see clipbot.slack.ackfirst)."""
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        token_verification_enabled=False,
        logger=logging.getLogger("clipbot.slack.bolt"),
        # Listeners only acknowledge (no I/O), so Bolt runs them in the dispatching thread
        # rather than in a pool it polls every 10 ms for the ack; the work goes to the pool.
        process_before_response=True,
    )
    answering.install(app, deps.poster)
    gate = Gate(deps.store, deps.guests, deps.poster, deps.now_ms)
    after_ack = AckFirst(lanes or Lanes(), gate, in_hand or InHand())
    commands.register(app, deps, after_ack)
    actions.register(app, deps, after_ack)
    home.register(app, deps, after_ack)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Respond | None = None) -> None:
        failed(error, body, respond)

    return app
