"""The App Home tab: health, subscriptions and the newest clips."""

from __future__ import annotations

import itertools
from typing import Any

from slack_bolt import App

from clipbot import replies
from clipbot.records import Clip
from clipbot.rhombus import RhombusError
from clipbot.slack.deps import Deps


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
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
    return replies.home_view(
        deps.store.health(deps.today_ms()),
        deps.store.subscriptions(team_id or None),
        recent,
        deps.now_ms(),
        deps.poll_seconds,
        deps.console_url,
        deps.access,
        [*deps.figures(), f"This replica: {deps.replica()}"],
    )
