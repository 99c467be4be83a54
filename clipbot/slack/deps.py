"""What the Slack listeners work with: built by clipbot.bot, passed in rather than reached for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from clipbot.access import Access, SharePolicy
from clipbot.metrics import Metrics
from clipbot.notify import SlackPoster
from clipbot.rhombus import RhombusClient
from clipbot.slack.gate import Guests
from clipbot.store import Store
from clipbot.summary import midnight
from clipbot.video import VideoDesk


@dataclass
class Deps:
    """What the listeners work with, passed in rather than reached for."""

    store: Store
    rhombus: RhombusClient
    poster: SlackPoster
    console_url: str
    admins: frozenset[str]  # CLIPBOT_ADMINS
    poll_seconds: int
    share_hours: int
    share: SharePolicy
    videos: VideoDesk | None  # None: the Video button is off (CLIPBOT_VIDEO_MAX_MB=0)
    now_ms: Callable[[], int]  # the bot's one clock
    guests: Guests  # users.info, cached: guests are refused
    zone: ZoneInfo  # CLIPBOT_TIMEZONE
    replica: Callable[[], str]  # this replica's clipbot.leader.Role
    metrics: Metrics  # the running bot's: /clips status and Home show its figures

    def figures(self) -> list[str]:
        """The metrics' reading as status lines."""
        return self.metrics.figures().lines()

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
