"""Every query of the store, written once in portable SQL for both SQLite and PostgreSQL.

`SqlStore` runs on a `Database` (see connection.py); SqliteStore and PostgresStore only say how
to connect, so the two cannot drift. Card and triage queries are in cards.py, the audit
trail's in audit.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clipbot.quiet import schedule
from clipbot.state import Health, PollOutcome, Subscription
from clipbot.store.audit import AuditQueries
from clipbot.store.batching import GroupCommit
from clipbot.store.buttons import ButtonQueries
from clipbot.store.codec import names_from_text, names_to_text
from clipbot.store.connection import Connection, Database, Row
from clipbot.store.groups import GroupQueries
from clipbot.store.liveness import LivenessQueries
from clipbot.store.mutes import MuteQueries
from clipbot.store.pruning import PruneQueries
from clipbot.store.redraws import RedrawQueries
from clipbot.store.replies import ReplyQueries
from clipbot.store.summaries import SummaryQueries
from clipbot.store.thumbnails import ThumbnailQueries
from clipbot.store.triage import TriageQueries
from clipbot.store.videos import VideoQueries

SUBSCRIPTION_COLUMNS = (
    "channel_id, team_id, camera, min_duration_sec, include_private, include_monitoring,"
    " created_by, created_at_ms, start_ms, start_uuids, broken, notify, hours, days, group_ms"
)


class SqlStore(
    GroupQueries,
    ReplyQueries,
    SummaryQueries,
    ButtonQueries,
    AuditQueries,
    VideoQueries,
    LivenessQueries,
    MuteQueries,
    RedrawQueries,
    ThumbnailQueries,
    PruneQueries,
    TriageQueries,
):
    """The store on any `Database`: subscriptions, the feed position, cards, triage, health."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._reservations = GroupCommit(db)

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        return self._db.schema_version()

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, sub: Subscription) -> Subscription | None:
        """Stores `sub`, replacing the channel's earlier one, which is returned."""
        with self._db.transaction() as db:
            previous = _subscription_in(db, sub.channel_id)
            db.run("DELETE FROM subscriptions WHERE channel_id = ?", (sub.channel_id,))
            db.run(
                f"INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.channel_id,
                    sub.team_id,
                    sub.camera,
                    sub.min_duration_sec,
                    int(sub.include_private),
                    int(sub.include_monitoring),
                    sub.created_by,
                    sub.created_at_ms,
                    sub.start_ms,
                    names_to_text(sub.start_uuids),
                    sub.broken,
                    sub.notify,
                    sub.schedule.hours_text if sub.schedule else None,
                    sub.schedule.days_text if sub.schedule else None,
                    sub.group_ms,
                ),
            )
        return previous

    def unsubscribe(self, channel_id: str) -> Subscription | None:
        """Removes the channel's subscription; the one removed, if any."""
        with self._db.transaction() as db:
            previous = _subscription_in(db, channel_id)
            db.run("DELETE FROM subscriptions WHERE channel_id = ?", (channel_id,))
        return previous

    def subscription(self, channel_id: str) -> Subscription | None:
        with self._db.reading() as db:
            return _subscription_in(db, channel_id)

    def subscriptions(self, team_id: str | None = None) -> list[Subscription]:
        """Every subscription (of one workspace, when given), oldest first."""
        sql = "SELECT * FROM subscriptions"
        args: tuple[Any, ...] = ()
        if team_id is not None:
            sql, args = sql + " WHERE team_id = ?", (team_id,)
        with self._db.reading() as db:
            rows = db.all(sql + " ORDER BY created_at_ms, channel_id", args)
        return [_subscription(row) for row in rows]

    def mark_broken(self, channel_id: str, reason: str) -> None:
        with self._db.transaction() as db:
            db.run("UPDATE subscriptions SET broken = ? WHERE channel_id = ?", (reason, channel_id))

    def record_refusal(self, channel_id: str, reason: str, limit: int) -> bool:
        """Counts a cycle whose posting the channel refused; at `limit` in a row the channel is
        marked broken with `reason`. True when it is broken now."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE subscriptions SET failures = failures + 1 WHERE channel_id = ?",
                (channel_id,),
            )
            db.run(
                "UPDATE subscriptions SET broken = ? WHERE channel_id = ? AND failures >= ?",
                (reason, channel_id, limit),
            )
            broken = db.scalar(
                "SELECT broken FROM subscriptions WHERE channel_id = ?", (channel_id,)
            )
        return bool(broken)

    def clear_refusals(self, channel_id: str) -> None:
        """The channel took a post again: its count of refusals in a row starts over."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE subscriptions SET failures = 0 WHERE channel_id = ? AND failures > 0",
                (channel_id,),
            )

    def advance_subscription(self, channel_id: str, position_ms: int) -> None:
        """Moves one subscription's feed position forward (never back)."""
        self.advance_subscriptions({channel_id: position_ms})

    def advance_subscriptions(self, positions: Mapping[str, int]) -> None:
        """Moves subscriptions' feed positions forward (never back), in one transaction.

        Not waiting for the disk (see Database.transaction; no fsync at the end of a cycle):
        lost with the machine, a position is only behind, so the next cycle reads that part of
        the feed again and skips every clip the store holds a card for (each card's reservation
        is durable). Commits keep their order, so a position that survives has the
        confirmations written before it."""
        with self._db.transaction(durable=False) as db:
            db.many(
                "UPDATE subscriptions SET position_ms = ? WHERE channel_id = ?"
                " AND (position_ms IS NULL OR position_ms < ?)",
                [(at, channel, at) for channel, at in positions.items()],
            )

    # -- the feed position ------------------------------------------------------------------

    def position(self, *, wait_s: float | None = None) -> int | None:
        """The newest createdAtMs read from the feed (each subscription keeps its own position);
        `wait_s`: wait at most this many seconds for the database (see Database.reading)."""
        with self._db.reading(wait_s=wait_s) as db:
            value = db.scalar("SELECT position_ms FROM feed WHERE id = 1")
        return int(value) if value is not None else None

    def advance(self, position_ms: int) -> None:
        """Moves the last-seen feed position forward (never back); not waiting for the disk,
        like a subscription's (see advance_subscriptions)."""
        with self._db.transaction(durable=False) as db:
            db.run(
                "UPDATE feed SET position_ms = ? WHERE id = 1"
                " AND (position_ms IS NULL OR position_ms < ?)",
                (position_ms, position_ms),
            )

    # -- the leader's lease -----------------------------------------------------------------

    def claim_lease(self, holder: str, lease_ms: int) -> bool:
        """Takes or renews the lease for `lease_ms` from now (the database's clock) if it is
        free, run out, or already `holder`'s; whether `holder` holds it now."""
        clock = self._db.clock
        with self._db.transaction() as db:
            return bool(
                db.run(
                    f"UPDATE lease SET holder = ?, expires_at_ms = {clock} + ?"
                    f" WHERE id = 1 AND (holder = ? OR holder IS NULL OR expires_at_ms < {clock})",
                    (holder, lease_ms, holder),
                )
            )

    def release_lease(self, holder: str) -> None:
        """Gives the lease up, if `holder` has it, so another replica can take it at once."""
        with self._db.transaction() as db:
            db.run("UPDATE lease SET holder = NULL, expires_at_ms = 0 WHERE holder = ?", (holder,))

    def lease_holder(self) -> str | None:
        """Who holds the lease now, if anyone."""
        clock = self._db.clock
        with self._db.reading() as db:
            holder = db.scalar(
                f"SELECT holder FROM lease WHERE id = 1 AND expires_at_ms >= {clock}"
            )
        return None if holder is None else str(holder)

    # -- health -----------------------------------------------------------------------------

    def record_success(self, at_ms: int) -> None:
        """A cycle read the feed and every channel got what it was due. Not waiting for the
        disk: lost with the machine, the next cycle writes it again."""
        with self._db.transaction(durable=False) as db:
            db.run(
                "UPDATE health SET last_success_ms = ?, last_outcome = ?, consecutive_failures = 0"
                " WHERE id = 1",
                (at_ms, PollOutcome.OK.value),
            )

    def record_progress(self, at_ms: int) -> None:
        with self._db.transaction(durable=False) as db:  # a heartbeat: losing one costs nothing
            db.run("UPDATE health SET last_progress_ms = ? WHERE id = 1", (at_ms,))

    def record_error(self, at_ms: int, error: str) -> None:
        """A cycle failed (Rhombus, or posting to some channel): `error` says why."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE health SET last_error = ?, last_error_ms = ?, last_outcome = ?,"
                " consecutive_failures = consecutive_failures + 1 WHERE id = 1",
                (error, at_ms, PollOutcome.FAILED.value),
            )

    def note_odd_records(self, keys: list[str], at_ms: int) -> None:
        """Counts odd feed records set aside, by key: each once, however often it is seen."""
        if keys:
            with self._db.transaction() as db:
                db.many(
                    "INSERT INTO odd_records (record_key, seen_at_ms) VALUES (?, ?)"
                    " ON CONFLICT (record_key) DO NOTHING",
                    [(key, at_ms) for key in keys],
                )

    def health(self, posted_since_ms: int) -> Health:
        with self._db.reading() as db:
            row = db.one("SELECT * FROM health WHERE id = 1")
            odd = int(db.scalar("SELECT COUNT(*) FROM odd_records") or 0)
        assert row is not None  # the first migration inserts it
        subs = self.subscriptions()
        return Health(
            last_outcome=PollOutcome(row["last_outcome"]) if row["last_outcome"] else None,
            consecutive_failures=row["consecutive_failures"],
            last_success_ms=row["last_success_ms"],
            last_error=row["last_error"],
            last_error_ms=row["last_error_ms"],
            last_progress_ms=row["last_progress_ms"],
            position_ms=self.position(),
            # (the column holds what was counted before records were kept by key)
            skipped_records=row["skipped_records"] + odd,
            posted_since=self.posted_since(posted_since_ms),
            posted_total=self.posted_since(0),
            broken=tuple(s for s in subs if s.broken),
            refusing=tuple(s for s in subs if s.failures and not s.broken),
        )


def _subscription_in(db: Connection, channel_id: str) -> Subscription | None:
    row = db.one("SELECT * FROM subscriptions WHERE channel_id = ?", (channel_id,))
    return _subscription(row) if row else None


def _subscription(row: Row) -> Subscription:
    return Subscription(
        channel_id=row["channel_id"],
        team_id=row["team_id"],
        camera=row["camera"],
        min_duration_sec=row["min_duration_sec"],
        include_private=bool(row["include_private"]),
        include_monitoring=bool(row["include_monitoring"]),
        created_by=row["created_by"],
        created_at_ms=row["created_at_ms"],
        start_ms=row["start_ms"],
        start_uuids=names_from_text(row["start_uuids"]),
        broken=row["broken"],
        notify=row["notify"],
        schedule=schedule(row["hours"], row["days"]),
        position_ms=row["position_ms"],
        failures=row["failures"],
        group_ms=row["group_ms"],
    )
