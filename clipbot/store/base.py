"""What the store promises, whichever database keeps it.

Every write is committed before the call returns (reservations made by several threads at
once may share one transaction: batching.py): a card is reserved before it is
sent and confirmed after, the feed position only moves forward, a clip is reserved at most
once per channel (a second reservation raises StoreConflict), and a triage press changes a card
only from the version it was read at. Failures raise StoreError subclasses (errors.py), never a
driver's own exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from clipbot.state import (
    Card,
    CardState,
    Subscription,
    SummaryRecord,
    SummaryState,
    ThreadReply,
    TriageEvent,
)
from clipbot.store.operations import OperationsStore


class Store(OperationsStore, Protocol):
    """The operations on clipbot's state, grouped by the kind of record they keep (those that
    run the bot, rather than post and triage clips, are in operations.py)."""

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, sub: Subscription) -> Subscription | None:
        """Stores `sub`, replacing the channel's earlier one, which is returned."""
        ...

    def unsubscribe(self, channel_id: str) -> Subscription | None:
        """Removes the channel's subscription; the one removed, if any."""
        ...

    def subscription(self, channel_id: str) -> Subscription | None: ...

    def subscriptions(self, team_id: str | None = None) -> list[Subscription]:
        """Every subscription (of one workspace, when given), oldest first."""
        ...

    def mark_broken(self, channel_id: str, reason: str) -> None: ...

    def record_refusal(self, channel_id: str, reason: str, limit: int) -> bool:
        """Counts a cycle whose posting the channel refused; at `limit` in a row it is marked
        broken with `reason`. True when it is broken now."""
        ...

    def clear_refusals(self, channel_id: str) -> None:
        """The channel took a post again: its count of refusals in a row starts over."""
        ...

    def advance_subscription(self, channel_id: str, position_ms: int) -> None:
        """Moves one subscription's feed position (ms) forward, never back."""
        ...

    def advance_subscriptions(self, positions: Mapping[str, int]) -> None:
        """Moves subscriptions' feed positions (channel ID → ms) forward, never back, in one
        transaction."""
        ...

    # -- feed progress ----------------------------------------------------------------------

    def position(self, *, wait_s: float | None = None) -> int | None:
        """The newest createdAtMs (ms) read from the feed; each subscription has its own
        position (`Subscription.position_ms`). `wait_s`: wait at most this many seconds for the
        database (StoreUnavailable after) instead of its usual timeout."""
        ...

    def advance(self, position_ms: int) -> None:
        """Moves the last-seen feed position forward (never back)."""
        ...

    # -- cards ------------------------------------------------------------------------------

    def reserve(self, cards: list[Card]) -> None:
        """Writes cards about to be posted, all or none; StoreConflict if one already exists."""
        ...

    def reserve_each(self, messages: list[list[Card]]) -> list[bool]:
        """Writes several messages' cards about to be posted, each message's all or none, in
        one transaction; whether each was written (False: one of its cards already exists)."""
        ...

    def confirm(
        self,
        channel_id: str,
        clip_uuids: list[str],
        ts: str,
        *,
        thumbnail_pending: bool = False,
        thumbnail_file_id: str | None = None,
    ) -> None:
        """Records the message `ts` that carries these clips in the channel (and its
        thumbnail, when given)."""
        ...

    def release(self, channel_id: str, clip_uuids: list[str]) -> None:
        """Forgets reservations whose message was certainly not posted, so they are retried."""
        ...

    def set_thumbnail_pending(self, card: Card, pending: bool) -> None: ...

    def card(self, clip_uuid: str, channel_id: str) -> Card | None: ...

    def posted_uuids(self, channel_id: str, clip_uuids: list[str]) -> set[str]:
        """Which of these clips the channel already has (reservations count)."""
        ...

    def last_ts_before_doubt(self, channel_id: str) -> str | None:
        """The newest confirmed message ts in the channel from before its first card in doubt."""
        ...

    def cards(self, channel_id: str | None = None) -> list[Card]:
        """Every card (of one channel, when given), oldest first."""
        ...

    def in_doubt(self) -> list[Card]:
        """Reservations whose posting was interrupted: posted or not, nobody knows yet."""
        ...

    def unfinished(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` whose clip was still being made."""
        ...

    def thumbnails_pending(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` still waiting to show their thumbnail."""
        ...

    def refresh(self, card: Card) -> None:
        """Stores a card's newer clip facts and thumbnail."""
        ...

    def open_cards(self, channel_id: str) -> list[Card]:
        """Cards in the channel that are neither resolved nor false alarms, oldest first."""
        ...

    def posted_in(self, channel_id: str, since_ms: int) -> list[Card]:
        """The channel's clips posted (confirmed) since `since_ms`, oldest first."""
        ...

    def first_claims(self, channel_id: str, since_ms: int) -> dict[str, int]:
        """Clip uuid → when it was first claimed (ms), for clips in the channel claimed since."""
        ...

    def posted_since(self, since_ms: int) -> int:
        """How many clips were posted at or after `since_ms`."""
        ...

    # -- triage events ----------------------------------------------------------------------

    def transition(
        self, card: Card, *, state: CardState, user: str, at_ms: int, action: str, note: str | None
    ) -> Card | None:
        """Moves a card from the version it was read at to `state`; None if it moved since."""
        ...

    def events(self, clip_uuid: str, channel_id: str) -> list[TriageEvent]:
        """The card's stored presses, oldest first."""
        ...

    def mark_shown(self, card: Card) -> bool:
        """Records that Slack shows `card` (its `rev`); False when that picture is already out
        of date (the card changed since it was read, or a newer one was shown first)."""
        ...

    def unshown(self, since_ms: int) -> list[Card]:
        """Cards and thread lines posted since `since_ms` whose newest picture Slack is not
        known to show (an edit failed), oldest first."""
        ...

    def save_thumbnail(self, clip_uuid: str, file_id: str, at_ms: int) -> None:
        """Records the Slack file holding the clip's thumbnail (the first one kept)."""
        ...

    def thumbnail(self, clip_uuid: str) -> str | None:
        """The Slack file ID of the clip's uploaded thumbnail, if any."""
        ...

    def missing_thumbnails(self, since_ms: int) -> list[Card]:
        """Cards of finished clips posted since `since_ms` that still show no thumbnail."""
        ...

    def reminders_due(self, posted_before_ms: int) -> list[Card]:
        """Open cards posted before `posted_before_ms` that have had no reminder yet."""
        ...

    def mark_reminded(self, card: Card) -> bool:
        """Marks a card reminded; False if it already was (so only one reminder goes out)."""
        ...

    # -- More buttons -----------------------------------------------------------------------

    def save_button_state(self, state: str, now_ms: int, ttl_ms: int) -> str:
        """Keeps `state` until `now_ms + ttl_ms`; the short key a button carries instead."""
        ...

    def button_state(self, key: str, now_ms: int) -> str | None:
        """The state saved under `key`; None when unknown or expired."""
        ...

    # -- thread replies ---------------------------------------------------------------------

    def reserve_reply(self, reply: ThreadReply, *, claim_ms: int) -> bool:
        """Writes a thread reply about to be posted, claimed by the caller for `claim_ms`;
        False if its key was written before."""
        ...

    def claim_reply(self, key: str, claim_ms: int) -> bool:
        """Takes an unconfirmed reply for `claim_ms` (the database's clock) to settle it; False
        while another claim on it has not run out (a replica is sending it), or once confirmed."""
        ...

    def unclaim_reply(self, key: str) -> None:
        """Ends the caller's claim on a reply left in doubt, so the next settle looks at once."""
        ...

    def confirm_reply(self, key: str, ts: str) -> None:
        """Records the `ts` of a reply known to be posted."""
        ...

    def reply_posted(self, key: str) -> bool:
        """Whether the reply with this key is known to be in Slack (confirmed with its ts)."""
        ...

    def release_reply(self, key: str) -> None:
        """Forgets a reply that was certainly not posted."""
        ...

    def replies_in_doubt(self) -> list[ThreadReply]:
        """Replies not confirmed (interrupted, or being sent right now), oldest first."""
        ...

    # -- burst grouping ---------------------------------------------------------------------

    def group_parents(self, channel_id: str, since_ms: int) -> list[Card]:
        """The channel's posted cards since `since_ms`, which clips may join."""
        ...

    def group_counts_pending(self) -> list[Card]:
        """Cards whose thread has more lines than their last edit counted."""
        ...

    def set_grouped_shown(self, card: Card, shown: int) -> None: ...

    # -- daily summaries --------------------------------------------------------------------

    def reserve_summary(self, record: SummaryRecord) -> bool:
        """Writes the day's record for the channel; False if it already had one (so: no post)."""
        ...

    def settle_summary(
        self, channel_id: str, day: str, state: SummaryState, ts: str | None
    ) -> None:
        """Moves a reserved summary to `state` (posted with its `ts`, or skipped)."""
        ...

    def release_summary(self, channel_id: str, day: str) -> None:
        """Forgets a reservation whose summary was certainly not posted, so it is tried again."""
        ...

    def summaries(self, state: SummaryState | None = None) -> list[SummaryRecord]:
        """Summary records (in one state, when given), oldest day first."""
        ...
