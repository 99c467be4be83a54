"""When this bot last started, next to the health record: what `clipbot healthcheck` reads."""

from __future__ import annotations

from clipbot.store.connection import Database


class LivenessQueries:
    """The start time of the newest `clipbot run` (epoch ms), kept in the health record."""

    _db: Database

    def record_start(self, at_ms: int) -> None:
        """Writes down that a `clipbot run` started at `at_ms`."""
        with self._db.transaction() as db:
            db.run("UPDATE health SET started_at_ms = ? WHERE id = 1", (at_ms,))

    def started_at(self) -> int | None:
        """When the newest `clipbot run` started (epoch ms); None if none ever did."""
        with self._db.reading() as db:
            row = db.one("SELECT started_at_ms FROM health WHERE id = 1")
        return None if row is None or row["started_at_ms"] is None else int(row["started_at_ms"])
