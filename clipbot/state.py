"""Typed records of what the store keeps: subscriptions, posted cards and poller health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from clipbot.quiet import Schedule
from clipbot.records import Clip


class CardState(StrEnum):
    """Where a card is in triage; the values are what the store keeps."""

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


class CardKind(StrEnum):
    """How a clip reached its channel: its own card, a line in a digest, or a line in the
    thread of a recent card from the same camera (burst grouping)."""

    CARD = "card"
    DIGEST = "digest"
    LINE = "line"


OPEN, CLAIMED = CardState.OPEN, CardState.CLAIMED
RESOLVED, FALSE_ALARM = CardState.RESOLVED, CardState.FALSE_ALARM
CLOSED_STATES = frozenset({RESOLVED, FALSE_ALARM})


# A daily summary's record: written before posting, settled after (or skipped when too late).
class SummaryState(StrEnum):
    RESERVED = "reserved"
    POSTED = "posted"
    SKIPPED = "skipped"


SUMMARY_RESERVED, SUMMARY_POSTED = SummaryState.RESERVED, SummaryState.POSTED
SUMMARY_SKIPPED = SummaryState.SKIPPED


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel's wish to see new clips, and where in the feed it began."""

    channel_id: str
    team_id: str
    created_by: str
    created_at_ms: int
    start_ms: int
    start_uuids: tuple[str, ...] = ()
    camera: str | None = None
    min_duration_sec: int | None = None
    include_private: bool = False
    include_monitoring: bool = False
    broken: str | None = None  # why clipbot stopped posting here, until subscribed again
    notify: str | None = None  # mentioned by each new card: `<@U…>` or `<!subteam^S…>`
    schedule: Schedule | None = None  # hours:/days: quiet hours, in CLIPBOT_TIMEZONE
    group_ms: int | None = None  # burst grouping window: clips join a younger card's thread
    position_ms: int | None = None  # every wanted clip saved before it is handled (None: start_ms)
    failures: int = 0  # poll cycles in a row whose posting here Slack refused

    @property
    def since_ms(self) -> int:
        """Where this subscription's part of the feed begins: its position, else its start."""
        return self.start_ms if self.position_ms is None else max(self.start_ms, self.position_ms)


@dataclass(frozen=True, slots=True)
class Card:
    """A clip posted to a channel (as its own card, or inside a digest) and its triage state."""

    clip: Clip
    channel_id: str
    posted_at_ms: int
    ts: str | None = None
    kind: CardKind = CardKind.CARD
    camera_names: tuple[str, ...] = ()
    saved_by: str | None = None
    thumbnail_file_id: str | None = None
    thumbnail_pending: bool = False  # uploaded, but Slack would not show it yet
    state: CardState = OPEN
    state_by: str | None = None
    state_at_ms: int | None = None
    owner: str | None = None
    note: str | None = None
    version: int = 0
    rev: int = 0  # bumped by every change to what the card shows (see Store.mark_shown)
    shown_rev: int = 0  # the newest `rev` Slack is known to show
    reminded: bool = False
    group_of: str | None = None  # LINE: the clip uuid of the card whose thread carries it
    digest_of: str | None = None  # DIGEST: the key of the digest carrying it (`digest_key`)
    grouped: int = 0  # CARD: lines confirmed in its thread
    grouped_shown: int = 0  # CARD: how many of them the card's last edit counted


def digest_key(cards: Sequence[Card]) -> str:
    """What names a digest in its channel (its metadata, its clips' `digest_of`): its first
    clip's uuid, which no other message there carries (a clip is reserved once per channel)."""
    return cards[0].clip.uuid


@dataclass(frozen=True, slots=True)
class TriageEvent:
    """One stored button press: who moved a card from which state to which, and when."""

    action: str
    user_id: str
    at_ms: int
    from_state: CardState
    to_state: CardState
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadReply:
    """A line clipbot posts in a card's thread, written down before it is sent.

    `key` names what the line records (a press, a reminder, a share link), so the same line is
    never posted twice and a reply whose answer was lost can be found by its metadata.
    """

    key: str
    channel_id: str
    thread_ts: str
    text: str
    created_at_ms: int
    ts: str | None = None  # None: not known to be posted yet (in doubt)


class PollOutcome(StrEnum):
    """How the last poll cycle ended."""

    OK = "ok"  # the feed was read and every channel got what it was due
    FAILED = "failed"  # Rhombus failed, or posting to some channel did


@dataclass(frozen=True, slots=True)
class Health:
    """The poller's health as its cycles wrote it down: explicit state, not a comparison of
    timestamps. Times are epoch milliseconds."""

    last_outcome: PollOutcome | None  # None: no cycle has finished yet
    consecutive_failures: int  # failed cycles since the last good one
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None
    position_ms: int | None  # the newest createdAtMs read from the feed
    skipped_records: int  # odd feed records (no createdAtMs or uuid) set aside, in all
    posted_since: int
    posted_total: int
    broken: tuple[Subscription, ...]
    # Channels not broken (yet) whose posts Slack refused in the last cycles (`failures`).
    refusing: tuple[Subscription, ...] = ()
    # When a cycle still running last delivered a card (written at most every few seconds).
    last_progress_ms: int | None = None

    @property
    def failing(self) -> bool:
        """Whether the last cycle failed."""
        return self.last_outcome is PollOutcome.FAILED


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    """One channel's daily summary for one local day (`YYYY-MM-DD` in CLIPBOT_TIMEZONE)."""

    channel_id: str
    day: str
    state: SummaryState
    at_ms: int  # when it was reserved (or skipped), by this machine's clock
    ts: str | None = None


class AuditKind(StrEnum):
    """What an audit entry records."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    MUTE = "mute"
    UNMUTE = "unmute"
    SHARE = "share"  # a login-free Rhombus share link was made
    VIDEO = "video"  # a clip's video was uploaded into Slack


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, where and when: one row of the audit trail (kept at least 90 days)."""

    at_ms: int  # when, by this machine's clock (ms since the epoch)
    kind: AuditKind
    user_id: str  # the Slack user who acted
    channel_id: str  # where
    details: str = ""  # plain text: the subscription's filters, the clip's title, …
    clip_uuid: str | None = None
    expires_at_ms: int | None = None  # share links: when the link stops working


@dataclass(frozen=True, slots=True)
class VideoFile:
    """A clip's MP4 as uploaded to Slack once, shared by every later press of Video."""

    clip_uuid: str
    file_id: str
    permalink: str | None
    size_bytes: int
    channel_id: str
    thread_ts: str
    uploaded_by: str
    uploaded_at_ms: int


@dataclass(frozen=True, slots=True)
class Expired:
    """What `Store.prune` deletes, each as "older than" an epoch-ms time: More-button states
    expired by `now_ms`; mutes that ended before `mutes_ms`, with the clips they held; Slack
    delivery keys noted before `deliveries_ms`; video downloads claimed before `video_fetches_ms`
    (a replica died mid-fetch); thread replies confirmed and written before `replies_ms`; audit
    entries before `audit_ms`."""

    now_ms: int
    mutes_ms: int
    deliveries_ms: int
    video_fetches_ms: int
    replies_ms: int
    audit_ms: int
