"""The store's thread-reply queries: each line written down before it is sent, by its key, and
claimed by whoever is sending it (any replica) until the claim runs out."""

from __future__ import annotations

from clipbot.state import ThreadReply
from clipbot.store.connection import Database


class ReplyQueries:
    """Thread replies (press lines, reminders, share links): reserved, claimed, confirmed or
    released. Claims run on the database's clock, so replicas agree on when one ran out."""

    _db: Database

    def reserve_reply(self, reply: ThreadReply, *, claim_ms: int) -> bool:
        """Writes a thread reply about to be posted, claimed by the caller for `claim_ms`;
        False if its key was written before."""
        with self._db.transaction() as db:
            return bool(
                db.run(
                    "INSERT INTO replies"
                    " (key, channel_id, thread_ts, text, ts, created_at_ms, claimed_until_ms)"
                    f" VALUES (?, ?, ?, ?, NULL, ?, {self._db.clock} + ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (
                        reply.key,
                        reply.channel_id,
                        reply.thread_ts,
                        reply.text,
                        reply.created_at_ms,
                        claim_ms,
                    ),
                )
            )

    def claim_reply(self, key: str, claim_ms: int) -> bool:
        """Takes an unconfirmed reply for `claim_ms` to settle it; False while another claim on
        it (a replica sending it right now) has not run out, or once it is confirmed."""
        clock = self._db.clock
        with self._db.transaction() as db:
            return bool(
                db.run(
                    f"UPDATE replies SET claimed_until_ms = {clock} + ?"
                    f" WHERE key = ? AND ts IS NULL AND claimed_until_ms < {clock}",
                    (claim_ms, key),
                )
            )

    def unclaim_reply(self, key: str) -> None:
        """Ends the caller's claim on a reply left in doubt, so the next settle looks at once."""
        with self._db.transaction() as db:
            db.run("UPDATE replies SET claimed_until_ms = 0 WHERE key = ? AND ts IS NULL", (key,))

    def confirm_reply(self, key: str, ts: str) -> None:
        """Records the `ts` of a reply known to be posted."""
        with self._db.transaction() as db:
            db.run("UPDATE replies SET ts = ? WHERE key = ?", (ts, key))

    def reply_posted(self, key: str) -> bool:
        """Whether the reply with this key is known to be in Slack (confirmed with its ts)."""
        with self._db.reading() as db:
            row = db.one("SELECT ts FROM replies WHERE key = ?", (key,))
        return row is not None and row["ts"] is not None

    def release_reply(self, key: str) -> None:
        """Forgets a reply that was certainly not posted."""
        with self._db.transaction() as db:
            db.run("DELETE FROM replies WHERE key = ? AND ts IS NULL", (key,))

    def replies_in_doubt(self) -> list[ThreadReply]:
        """Replies not confirmed (interrupted, or being sent right now), oldest first."""
        with self._db.reading() as db:
            rows = db.all("SELECT * FROM replies WHERE ts IS NULL ORDER BY created_at_ms, key")
        return [
            ThreadReply(
                key=row["key"],
                channel_id=row["channel_id"],
                thread_ts=row["thread_ts"],
                text=row["text"],
                created_at_ms=row["created_at_ms"],
            )
            for row in rows
        ]
