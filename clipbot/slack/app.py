"""The Bolt app factory: one place where every listener is registered."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App
from slack_sdk import WebClient

from clipbot.access import Access, SharePolicy
from clipbot.config import machine_zone
from clipbot.metrics import Metrics
from clipbot.notify import SlackPoster
from clipbot.rhombus import RhombusClient
from clipbot.slack.gate import Guests
from clipbot.store import Store, StoreUnavailable
from clipbot.summary import midnight
from clipbot.video import VideoDesk

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong inside clipbot; it is logged. Please try again."
STORE_DOWN = "clipbot cannot reach its database right now; please try again in a minute."


@dataclass
class Deps:
    """What the listeners work with, passed in rather than reached for."""

    store: Store
    rhombus: RhombusClient
    poster: SlackPoster
    console_url: str
    admins: frozenset[str] = frozenset()
    poll_seconds: int = 30
    share_hours: int = 24
    share: SharePolicy = SharePolicy.EVERYONE
    videos: VideoDesk | None = None  # None: the Video button is off (CLIPBOT_VIDEO_MAX_MB=0)
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    guests: Guests = field(default_factory=Guests)  # users.info, cached: guests are refused
    zone: ZoneInfo = field(default_factory=machine_zone)  # CLIPBOT_TIMEZONE
    replica: Callable[[], str] = field(default=lambda: "leader")  # see clipbot.leader.Role
    metrics: Metrics | None = None  # the running bot's: /clips status and Home show its figures

    def figures(self) -> list[str]:
        """The metrics' reading as status lines; none without metrics (tests, poll --once)."""
        return self.metrics.figures().lines() if self.metrics else []

    @property
    def access(self) -> Access:
        """Who may do what (CLIPBOT_ADMINS, CLIPBOT_SHARE); see clipbot.access."""
        return Access(self.admins, self.share)

    @property
    def video_max_bytes(self) -> int:
        return self.videos.max_bytes if self.videos else 0

    def today_ms(self) -> int:
        """Midnight today in CLIPBOT_TIMEZONE (epoch ms), for "clips posted today"."""
        return midnight(self.now_ms(), self.zone)


def build_app(
    deps: Deps,
    client: WebClient,
    signing_secret: str = "",
    listener_executor: Executor | None = None,
) -> App:
    """A Bolt app with clipbot's listeners; the caller picks Socket Mode or HTTP, and may own
    the thread pool listeners run in (Bolt makes its own otherwise)."""
    from clipbot.slack import actions, answering, commands, gate, home

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
