"""clipbot built by its composition root against the fake servers and a real SQLite store,
as the tests drive it: the same `clipbot.bot.build` as `clipbot run`, with a test clock, no waits
and small pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from clipbot.access import Access
from clipbot.bot import Bot, Tuning, build
from clipbot.config import Settings
from clipbot.state import Subscription
from clipbot.store import Store
from tests.fakes.rhombus import API_KEY, FakeRhombus
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack

T0 = 1_764_000_000_000
CONSOLE = "https://console.example.test"


def fake_env(rhombus: FakeRhombus, slack: FakeSlack, database: Path) -> dict[str, str]:
    """A complete environment for clipbot against the fakes, with its store at `database`."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "RHOMBUS_API_KEY": API_KEY,
        "RHOMBUS_API_URL": rhombus.api_url,
        "RHOMBUS_MEDIA_URL": rhombus.media_url,
        "RHOMBUS_CONSOLE_URL": CONSOLE,
        "CLIPBOT_DATABASE_URL": f"sqlite:///{database}",
        "CLIPBOT_TIMEZONE": "UTC",
    }


@dataclass
class World:
    """One built clipbot (store, clients, poller); `restart()` builds a fresh one on the same
    database. Two Worlds on one `database_url` are two replicas."""

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
    database_url: str | None = None  # instead of SQLite at `path` (PostgreSQL: replicas)
    lead: bool = True  # take the lease at each (re)start, as a lone `clipbot run` does

    def __post_init__(self) -> None:
        env = fake_env(self.rhombus, self.slack, self.path)
        env["CLIPBOT_DIGEST_THRESHOLD"] = str(self.digest_threshold)
        env["CLIPBOT_ADMINS"] = ",".join(sorted(self.access.admins))
        env["CLIPBOT_SHARE"] = self.access.share.value
        if self.database_url:
            env["CLIPBOT_DATABASE_URL"] = self.database_url
        self.settings = Settings.from_env(env)
        self.tuning = Tuning(
            rhombus_page_size=self.page_size,
            rhombus_sleep=lambda s: None,
            slack_pace_s=self.pace_seconds,
            video_max_bytes=self.video_max_bytes,
        )
        self.restart()

    def clock(self) -> int:
        return self.now[0]

    def restart(self) -> None:
        """Everything in memory is dropped; only the database file carries over."""
        if hasattr(self, "bot"):
            self.bot.close()
        self.bot: Bot = build(self.settings, clock=self.clock, tuning=self.tuning)
        self.store = self.bot.store
        self.client = self.bot.rhombus
        self.poster = self.bot.poster
        self.web = self.poster.client
        self.poller = self.bot.poller
        # One process on one SQLite file leads, as `clipbot run` does once its lease job ran.
        if self.lead:
            assert self.bot.leadership.renew()

    def close(self) -> None:
        self.bot.close()

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
        return posted_in(self.slack, channel, self.store)


def posted_in(slack: FakeSlack, channel: str, store: Store) -> list[str]:
    """Clip uuids of the top-level messages in the channel, in posting order. A digest's
    metadata names it by key and count only: its clips are those the store keeps under that key,
    as many as the message says (a digest posted twice lists them twice). A digest whose clips
    were released is left out: in doubt while the channel's history could not be read, they
    are posted again rather than lost (README, "Creating the Slack app"), and the key may be
    reserved again for them; the message cannot name them any more."""
    uuids: list[str] = []
    for message in slack.posts(channel):
        payload = (message.metadata or {}).get("event_payload", {})
        if "digest" not in payload:
            uuids.append(payload.get("clip_uuid"))
            continue
        cards = [c for c in store.cards(channel) if c.digest_of == payload["digest"]]
        if len(cards) != payload["clip_count"]:
            # Released, unless some were confirmed as this very message: then a bug.
            assert all(c.ts != message.ts for c in cards), "a digest's count differs from its clips"
            continue
        uuids += [c.clip.uuid for c in sorted(cards, key=lambda c: c.clip.created_at_ms)]
    return uuids
