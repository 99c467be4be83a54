"""The store's thumbnails: each clip's image uploaded to Slack once, and cards still without one."""

from __future__ import annotations

from clipbot.state import Card, CardKind
from clipbot.store.cards import card_from_row
from clipbot.store.connection import Database


class ThumbnailQueries:
    """Thumbnails: the Slack file of each clip's image, and the cards that wait for one."""

    _db: Database

    def save_thumbnail(self, clip_uuid: str, file_id: str, at_ms: int) -> None:
        """Records the Slack file holding the clip's thumbnail (the first one kept).

        Not waiting for the disk (see Database.transaction): the next durable write (a card
        reserved after it, or the cycle's positions and health at its end) makes this durable
        too; lost only with the machine before that, it costs one more upload of the image."""
        with self._db.transaction(durable=False) as db:
            db.run(
                "INSERT INTO thumbnails (clip_uuid, file_id, uploaded_at_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (clip_uuid) DO NOTHING",
                (clip_uuid, file_id, at_ms),
            )

    def thumbnail(self, clip_uuid: str) -> str | None:
        """The Slack file ID of the clip's uploaded thumbnail, if any."""
        with self._db.reading() as db:
            row = db.one("SELECT file_id FROM thumbnails WHERE clip_uuid = ?", (clip_uuid,))
        return str(row["file_id"]) if row else None

    def missing_thumbnails(self, since_ms: int) -> list[Card]:
        """Cards (and grouped clips' thread lines) of finished clips posted since `since_ms`
        that still show no thumbnail (the media server did not have it yet), oldest first."""
        with self._db.reading() as db:
            rows = db.all(
                "SELECT * FROM cards WHERE kind IN (?, ?) AND ts IS NOT NULL AND posted_at_ms >= ?"
                " AND thumbnail_file_id IS NULL ORDER BY posted_at_ms, clip_uuid",
                (CardKind.CARD.value, CardKind.LINE.value, since_ms),
            )
        return [c for c in map(card_from_row, rows) if c.clip.status == "COMPLETE"]
