"""The store's daily-summary queries: one record per channel and local day, written first."""

from __future__ import annotations

from clipbot.state import SUMMARY_RESERVED, SummaryRecord, SummaryState
from clipbot.store.connection import Database, Row


class SummaryQueries:
    """Daily summaries: reserved before posting, settled after (posted or skipped)."""

    _db: Database

    def reserve_summary(self, record: SummaryRecord) -> bool:
        """Writes the day's record for the channel; False if it already had one (so: no post)."""
        with self._db.transaction() as db:
            return bool(
                db.run(
                    "INSERT INTO summaries (channel_id, day, state, ts, at_ms)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, day) DO NOTHING",
                    (record.channel_id, record.day, record.state.value, record.ts, record.at_ms),
                )
            )

    def settle_summary(
        self, channel_id: str, day: str, state: SummaryState, ts: str | None
    ) -> None:
        """Moves a reserved summary to `state` (posted with its `ts`, or skipped)."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE summaries SET state = ?, ts = ? WHERE channel_id = ? AND day = ?",
                (state.value, ts, channel_id, day),
            )

    def release_summary(self, channel_id: str, day: str) -> None:
        """Forgets a reservation whose summary was certainly not posted, so it is tried again."""
        with self._db.transaction() as db:
            db.run(
                "DELETE FROM summaries WHERE channel_id = ? AND day = ? AND state = ?",
                (channel_id, day, SUMMARY_RESERVED.value),
            )

    def summaries(self, state: SummaryState | None = None) -> list[SummaryRecord]:
        """Summary records (in one state, when given), oldest day first."""
        sql = "SELECT * FROM summaries"
        args: tuple[str, ...] = ()
        if state is not None:
            sql, args = sql + " WHERE state = ?", (state.value,)
        with self._db.reading() as db:
            rows = db.all(sql + " ORDER BY day, channel_id", args)
        return [_summary(row) for row in rows]


def _summary(row: Row) -> SummaryRecord:
    return SummaryRecord(
        row["channel_id"], row["day"], SummaryState(row["state"]), row["at_ms"], row["ts"]
    )
