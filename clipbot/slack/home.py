"""The App Home tab: health, subscriptions, running mutes and the newest clips."""

from __future__ import annotations

import itertools
from typing import Any

from slack_bolt import App, Respond

from clipbot.blocks import local_time
from clipbot.home_tab import home_view
from clipbot.records import Clip
from clipbot.rhombus import RhombusError
from clipbot.slack import mutes
from clipbot.slack.ackfirst import AckFirst
from clipbot.slack.deps import Deps


def register(app: App, deps: Deps, after_ack: AckFirst) -> None:
    @app.event("app_home_opened")
    @after_ack.rhombus
    def home_opened(body: dict[str, Any], respond: Respond) -> None:
        event = body["event"]
        if event.get("tab", "home") != "home":
            return
        deps.poster.publish_home(event["user"], home(deps, str(body.get("team_id", ""))))


def home(deps: Deps, team_id: str) -> dict[str, Any]:
    """The Home view for a workspace, as of now."""
    recent: list[tuple[Clip, tuple[str, ...]]] | str
    try:
        clips = list(itertools.islice((c for c in deps.rhombus.recent() if not c.is_private), 5))
        recent = [(c, deps.rhombus.camera_names(c.camera_ids)) for c in clips]
    except RhombusError as exc:
        recent = f"Could not load recent clips: {exc}"
    subs = deps.store.subscriptions(team_id or None)
    now = deps.now_ms()
    muted = mutes.status_lines(
        deps.store, [s.channel_id for s in subs], now, lambda ms: local_time(ms, deps.zone)
    )
    return home_view(
        deps.store.health(deps.today_ms()),
        subs,
        recent,
        now,
        deps.poll_seconds,
        deps.console_url,
        deps.access,
        [*deps.figures(), f"This replica: {deps.replica()}"],
        muted,
    )
