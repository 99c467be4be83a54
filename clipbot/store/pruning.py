"""The store's pruning: rows that only matter for a while, deleted once they cannot."""

from __future__ import annotations

from clipbot.state import Expired
from clipbot.store.connection import Database

# (kind, statement, which Expired time it takes): one DELETE each, all in one transaction.
PRUNING = (
    ("More-button states", "DELETE FROM button_states WHERE expires_at_ms < ?", "now_ms"),
    (
        "clips held by ended mutes",
        "DELETE FROM held WHERE mute_id IN (SELECT id FROM mutes WHERE until_ms < ?)",
        "mutes_ms",
    ),
    ("ended mutes", "DELETE FROM mutes WHERE until_ms < ?", "mutes_ms"),
    ("delivery keys", "DELETE FROM deliveries WHERE at_ms < ?", "deliveries_ms"),
    (
        "video download claims",
        "DELETE FROM video_fetches WHERE started_at_ms < ?",
        "video_fetches_ms",
    ),
    (
        "thread replies",
        "DELETE FROM replies WHERE ts IS NOT NULL AND created_at_ms < ?",
        "replies_ms",
    ),
    ("audit entries", "DELETE FROM audit WHERE at_ms < ?", "audit_ms"),
)


class PruneQueries:
    """Pruning, run by the leader's `prune` job (see clipbot.pruning)."""

    _db: Database

    def prune(self, expired: Expired) -> dict[str, int]:
        """Deletes the rows that can no longer matter (see Expired); how many, by kind."""
        with self._db.transaction() as db:
            return {
                kind: db.run(statement, (getattr(expired, when),))
                for kind, statement, when in PRUNING
            }
