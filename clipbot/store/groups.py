"""The store's burst-grouping queries: clips posted as lines in a recent card's thread."""

from __future__ import annotations

from clipbot.state import Card
from clipbot.store.cards import CardQueries


class GroupQueries(CardQueries):
    """Thread lines (kind `line`) and the count each card shows of them."""

    def group_parents(self, channel_id: str, since_ms: int) -> list[Card]:
        """The channel's posted cards (not lines or digests) since `since_ms`: clips may join
        their threads."""
        return self._cards(
            "channel_id = ? AND kind = ? AND ts IS NOT NULL AND posted_at_ms >= ?",
            (channel_id, "card", since_ms),
        )

    def group_counts_pending(self) -> list[Card]:
        """Cards whose thread has more lines than their last edit counted."""
        return self._cards("kind = ? AND ts IS NOT NULL AND grouped > grouped_shown", ("card",))

    def set_grouped_shown(self, card: Card, shown: int) -> None:
        """Notes that the card's last edit counted `shown` thread lines."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE cards SET grouped_shown = ? WHERE clip_uuid = ? AND channel_id = ?"
                " AND grouped_shown < ?",
                (shown, card.clip.uuid, card.channel_id, shown),
            )
