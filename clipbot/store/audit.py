"""The store's audit trail (who did what) and the Slack deliveries already acted on."""

from __future__ import annotations

from clipbot.state import AuditEntry, AuditKind
from clipbot.store.connection import Database, Row


class AuditQueries:
    """The audit trail (pruned as it grows) and the Slack deliveries already acted on."""

    _db: Database

    def record_audit(self, entry: AuditEntry, *, prune_before_ms: int) -> None:
        """Adds an entry to the audit trail and drops entries older than `prune_before_ms`."""
        with self._db.transaction() as db:
            db.run(
                "INSERT INTO audit (at_ms, kind, user_id, channel_id, details, clip_uuid,"
                " expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.at_ms,
                    entry.kind.value,
                    entry.user_id,
                    entry.channel_id,
                    entry.details,
                    entry.clip_uuid,
                    entry.expires_at_ms,
                ),
            )
            db.run("DELETE FROM audit WHERE at_ms < ?", (prune_before_ms,))

    def audit(self, since_ms: int) -> list[AuditEntry]:
        """The audit trail from `since_ms` on, newest first."""
        with self._db.reading() as db:
            rows = db.all(
                "SELECT * FROM audit WHERE at_ms >= ? ORDER BY at_ms DESC, kind, channel_id",
                (since_ms,),
            )
        return [_entry(row) for row in rows]

    def first_delivery(self, key: str, at_ms: int, *, forget_before_ms: int) -> bool:
        """Notes a Slack delivery; False if `key` was noted already (a retry: do not act again).

        Keys noted before `forget_before_ms` are forgotten.
        """
        with self._db.transaction() as db:
            db.run("DELETE FROM deliveries WHERE at_ms < ?", (forget_before_ms,))
            return bool(
                db.run(
                    "INSERT INTO deliveries (delivery_key, at_ms) VALUES (?, ?)"
                    " ON CONFLICT (delivery_key) DO NOTHING",
                    (key, at_ms),
                )
            )


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        at_ms=row["at_ms"],
        kind=AuditKind(row["kind"]),
        user_id=row["user_id"],
        channel_id=row["channel_id"],
        details=row["details"],
        clip_uuid=row["clip_uuid"],
        expires_at_ms=row["expires_at_ms"],
    )
