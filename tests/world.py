"""A poller wired to the fake servers and a real SQLite store, as the tests drive it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from slack_sdk import WebClient

from clipbot.access import Access
from clipbot.config import Secret
from clipbot.notify import SlackPoster
from clipbot.poller import Poller
from clipbot.rhombus import RhombusAuth, RhombusClient
from clipbot.state import Subscription
from clipbot.store import SqliteStore
from clipbot.wiring import slack_retry_handlers
from tests.fakes.rhombus import API_KEY, FakeRhombus
from tests.fakes.slack import BOT_TOKEN, FakeSlack

T0 = 1_764_000_000_000
CONSOLE = "https://console.example.test"


@dataclass
class World:
    """One running clipbot (store, clients, poller); `restart()` makes a fresh one on the same file."""

    rhombus: FakeRhombus
    slack: FakeSlack
    path: Path
    page_size: int = 100
    digest_threshold: int = 20
    video_max_bytes: int = 0  # cards offer the Video button up to this size; 0: never
    now: list[int] = field(default_factory=lambda: [T0 + 3_600_000])
    # The poller's access: world.subscribe() subscribes as UADMIN, an admin.
    access: Access = field(default_factory=lambda: Access(frozenset({"UADMIN"})))
    pace_seconds: float = 0.0  # the poster's spacing of one channel's posts (1.0 in clipbot run)

    def __post_init__(self) -> None:
        self._http: list[httpx.Client] = []
        self.restart()

    def restart(self) -> None:
        """Everything in memory is dropped; only the database file carries over."""
        if hasattr(self, "store"):
            self.store.close()
        self.store = SqliteStore(str(self.path))
        self._http.append(httpx.Client(timeout=5))
        self.client = RhombusClient(
            self._http[-1],
            RhombusAuth(Secret(API_KEY)),
            self.rhombus.api_url,
            self.rhombus.media_url,
            page_size=self.page_size,
            sleep=lambda s: None,
            now_ms=lambda: self.now[0],
        )
        self.web = WebClient(
            token=BOT_TOKEN,
            base_url=self.slack.api_url,
            retry_handlers=slack_retry_handlers(),
        )
        self.poster = SlackPoster(self.web, pace_seconds=self.pace_seconds)
        self.poller = Poller(
            self.store,
            self.client,
            self.poster,
            console_url=CONSOLE,
            digest_threshold=self.digest_threshold,
            access=self.access,
            video_max_bytes=self.video_max_bytes,
            now_ms=lambda: self.now[0],
        )

    def close(self) -> None:
        self.store.close()
        for http in self._http:
            http.close()

    def subscribe(self, channel: str, start_ms: int = T0 - 1, **filters: object) -> Subscription:
        sub = Subscription(
            channel_id=channel,
            team_id="T0001",
            created_by="UADMIN",
            created_at_ms=start_ms,
            start_ms=start_ms,
            **filters,  # type: ignore[arg-type]
        )
        self.store.subscribe(sub)
        return sub

    def posted_uuids(self, channel: str) -> list[str]:
        """Clip uuids of the top-level messages in the channel, in posting order."""
        uuids: list[str] = []
        for message in self.slack.posts(channel):
            payload = (message.metadata or {}).get("event_payload", {})
            uuids += payload.get("clip_uuids") or [payload.get("clip_uuid")]
        return uuids
