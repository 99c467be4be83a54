"""The store's record of which picture of a card Slack shows, so racing redraws settle."""

from __future__ import annotations

from clipbot.state import Card, CardKind
from clipbot.store.cards import card_from_row
from clipbot.store.connection import Database


class RedrawQueries:
    """Card redraws: which `rev` of a card is known to be in Slack."""

    _db: Database

    def mark_shown(self, card: Card) -> bool:
        """Records that Slack now shows `card` as read (its `rev`). False when that picture is
        already out of date, so the caller must draw again: the card changed since it was
        read, or a newer picture was shown first and this edit overwrote it."""
        with self._db.transaction() as db:
            return bool(
                db.run(
                    "UPDATE cards SET shown_rev = ? WHERE clip_uuid = ? AND channel_id = ?"
                    " AND rev = ? AND shown_rev <= ?",
                    (card.rev, card.clip.uuid, card.channel_id, card.rev, card.rev),
                )
            )

    def unshown(self, since_ms: int) -> list[Card]:
        """Cards and thread lines posted since `since_ms` (epoch ms) whose newest picture Slack
        is not known to show (an edit failed, was rate limited or lost its answer), oldest
        first: for the poller to draw again, so a card never keeps showing a state it left."""
        with self._db.reading() as db:
            rows = db.all(
                "SELECT * FROM cards WHERE kind IN (?, ?) AND ts IS NOT NULL AND shown_rev < rev"
                " AND posted_at_ms >= ? ORDER BY posted_at_ms, clip_uuid",
                (CardKind.CARD.value, CardKind.LINE.value, since_ms),
            )
        return [card_from_row(row) for row in rows]
