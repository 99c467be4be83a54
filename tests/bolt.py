"""Driving the real Bolt app with Slack's payloads, as Socket Mode or signed HTTP delivers them."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from clipbot.access import SharePolicy
from clipbot.bot import build
from clipbot.video import VideoDesk
from tests.world import World

TEAM = "T0001"
TRIGGERS = itertools.count(1)  # unique across Bot instances, as Slack's are


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Waits for work a listener does after ack(); the first truthy result of `check`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


class Bot:
    """The Bolt app over a World, with helpers that send it Slack payloads."""

    def __init__(
        self,
        world: World,
        admins: frozenset[str] = frozenset(),
        share: SharePolicy = SharePolicy.EVERYONE,
        videos: VideoDesk | None = None,
    ) -> None:
        """Built by clipbot.bot.build like the running bot, sharing the world's store and
        clients, with its own CLIPBOT_ADMINS and CLIPBOT_SHARE."""
        self.world = world
        settings = replace(world.settings, admins=admins, share=share)
        built = build(
            settings,
            clock=world.clock,
            tuning=world.tuning,
            store=world.store,
            rhombus=world.client,
            web=world.web,
            videos=videos,
            leadership=world.bot.leadership,
        )
        self.deps = built.deps
        self.app: App = built.app
        self._busy = built.busy
        self.in_hand = built.in_hand  # what its Socket Mode handler would report to
        self.built = built
        self._responses = 0

    def trigger(self) -> str:
        """A fresh trigger_id: Slack gives every command, press and submission its own."""
        return f"trigger-{next(TRIGGERS)}"

    def command(
        self, text: str, channel: str = "C1", user: str = "U1", response_url: str | None = None
    ) -> BoltResponse:
        body = {
            "token": "unused",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": user,
            "command": "/clips",
            "text": text,
            "response_url": response_url or self.world.slack.response_url(),
            "trigger_id": self.trigger(),
        }
        return self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))

    def press(
        self,
        action_id: str,
        value: str,
        *,
        channel: str = "C1",
        user: str = "U1",
        ts: str = "",
        block_id: str = "b",
        trigger: str | None = None,
    ) -> BoltResponse:
        """A button press; `trigger` repeats an earlier press's trigger_id (a redelivery)."""
        body = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": user},
            "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": ts},
            "message": {"ts": ts},
            "trigger_id": trigger or self.trigger(),
            "response_url": self.world.slack.response_url(),
            "actions": [
                {"type": "button", "action_id": action_id, "block_id": block_id, "value": value}
            ],
        }
        return self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))

    def submit_note(
        self, private_metadata: str, note: str | None, user: str = "U1"
    ) -> BoltResponse:
        body = {
            "type": "view_submission",
            "trigger_id": self.trigger(),
            "team": {"id": TEAM},
            "user": {"id": user},
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "triage_note",
                "private_metadata": private_metadata,
                "state": {
                    "values": {"note": {"note": {"type": "plain_text_input", "value": note}}}
                },
            },
        }
        return self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))

    def home_opened(self, user: str = "U1") -> BoltResponse:
        body = {
            "type": "event_callback",
            "event_id": f"Ev{self.trigger()}",
            "team_id": TEAM,
            "event": {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"},
        }
        return self.app.dispatch(BoltRequest(body=body, mode="socket_mode"))

    def settled(self) -> None:
        """Waits until the work of every request sent so far is done: acknowledged at once,
        it runs afterwards in the listener pool."""
        assert self._busy.wait_idle(10), "listener work still running after 10 s"

    def next_response(self) -> dict[str, Any]:
        """The next message the app sent to a response_url (waits for it)."""
        responses = self.world.slack.responses
        eventually(lambda: len(responses) > self._responses)
        assert len(responses) > self._responses, "no response_url message arrived"
        self._responses += 1
        return responses[self._responses - 1]
