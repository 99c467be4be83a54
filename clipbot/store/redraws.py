"""The store's record of which picture of a card Slack shows, so racing redraws settle."""

from __future__ import annotations

from clipbot.state import Card
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
