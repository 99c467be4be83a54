"""The Bolt app factory: one place where every listener is registered."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from clipbot.slack import actions, answering, commands, gate, home
from clipbot.slack.deps import Deps
from clipbot.store import StoreUnavailable

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong inside clipbot; it is logged. Please try again."
STORE_DOWN = "clipbot cannot reach its database right now; please try again in a minute."


def build_app(
    deps: Deps,
    client: WebClient,
    signing_secret: str = "",
    listener_executor: Executor | None = None,
) -> App:
    """A Bolt app with clipbot's listeners; the caller picks Socket Mode or HTTP, and may own
    the thread pool listeners run in (Bolt makes its own otherwise)."""
    app = App(
        client=client,
        signing_secret=signing_secret or "socket-mode-does-not-sign",
        token_verification_enabled=False,
        logger=logging.getLogger("clipbot.slack.bolt"),
        listener_executor=listener_executor,
    )
    answering.install(app, deps.poster)
    gate.register(
        app, deps.store, deps.guests, deps.poster, deps.now_ms
    )  # each delivery once; no guests
    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        down = isinstance(error, StoreUnavailable)
        if down:
            log.error("listener failed: %s", error)
        else:
            log.error("listener failed: %s", type(error).__name__, exc_info=error)
        if respond is not None and body.get("response_url"):
            text = STORE_DOWN if down else INTERNAL_ERROR
            respond(text=text, response_type="ephemeral", replace_original=False)

    return app
