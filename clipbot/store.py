"""The state store: subscriptions, the feed position, posted cards and their triage state.

SQLite by default; the SQL is kept portable and every query lives in this one class, so a
PostgreSQL store can implement the same methods.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from clipbot.config import ConfigError
from clipbot.records import Clip
from clipbot.schema import MIGRATIONS
from clipbot.state import (
    CLAIMED,
    CLOSED_STATES,
    FALSE_ALARM,
    RESOLVED,
    SUMMARY_RESERVED,
    Card,
    Health,
    Subscription,
    SummaryRecord,
)


def open_store(database_url: str) -> SqliteStore:
    """The store at `database_url`."""
    if database_url.startswith("sqlite:///"):
        return SqliteStore(database_url.removeprefix("sqlite:///"))
    raise ConfigError(
        ["CLIPBOT_DATABASE_URL: PostgreSQL is not supported by this release yet; use sqlite:///…"]
    )


class SqliteStore:
    """The store in one SQLite file, safe to share between threads."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, sub: Subscription) -> Subscription | None:
        """Stores `sub`, replacing the channel's earlier one, which is returned."""
        with self._tx() as db:
            previous = self._subscription(db, sub.channel_id)
            db.execute("DELETE FROM subscriptions WHERE channel_id = ?", (sub.channel_id,))
            db.execute(
                "INSERT INTO subscriptions (channel_id, team_id, camera, min_duration_sec,"
                " include_private, include_monitoring, created_by, created_at_ms, start_ms,"
                " start_uuids, broken) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    json.dumps(list(sub.start_uuids)),
                    sub.broken,
                ),
            )
        return previous

    def unsubscribe(self, channel_id: str) -> Subscription | None:
        """Removes the channel's subscription; the one removed, if any."""
        with self._tx() as db:
            previous = self._subscription(db, channel_id)
            db.execute("DELETE FROM subscriptions WHERE channel_id = ?", (channel_id,))
        return previous

    def subscription(self, channel_id: str) -> Subscription | None:
        with self._lock:
            return self._subscription(self._db, channel_id)

    def subscriptions(self, team_id: str | None = None) -> list[Subscription]:
        """Every subscription (of one workspace, when given), oldest first."""
        sql = "SELECT * FROM subscriptions"
        args: tuple[Any, ...] = ()
        if team_id is not None:
            sql, args = sql + " WHERE team_id = ?", (team_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at_ms, channel_id", args).fetchall()
        return [_subscription(row) for row in rows]

    def mark_broken(self, channel_id: str, reason: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE subscriptions SET broken = ? WHERE channel_id = ?", (reason, channel_id)
            )

    def _subscription(self, db: sqlite3.Connection, channel_id: str) -> Subscription | None:
        row = db.execute(
            "SELECT * FROM subscriptions WHERE channel_id = ?", (channel_id,)
        ).fetchone()
        return _subscription(row) if row else None

    # -- the feed position ------------------------------------------------------------------

    def position(self) -> int | None:
        """The feed position: every clip saved before it has been handled."""
        with self._lock:
            value = self._db.execute("SELECT position_ms FROM feed WHERE id = 1").fetchone()[0]
        return int(value) if value is not None else None

    def advance(self, position_ms: int) -> None:
        """Moves the feed position forward (never back)."""
        with self._tx() as db:
            db.execute(
                "UPDATE feed SET position_ms = ? WHERE id = 1"
                " AND (position_ms IS NULL OR position_ms < ?)",
                (position_ms, position_ms),
            )

    # -- cards ------------------------------------------------------------------------------

    def reserve(self, cards: list[Card]) -> None:
        """Writes cards about to be posted (ts still unknown), all or none."""
        with self._tx() as db:
            for card in cards:
                db.execute(
                    "INSERT INTO cards (clip_uuid, channel_id, ts, kind, clip, camera_names,"
                    " saved_by, thumbnail_file_id, posted_at_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        card.clip.uuid,
                        card.channel_id,
                        card.ts,
                        card.kind,
                        json.dumps(card.clip.to_json()),
                        json.dumps(list(card.camera_names)),
                        card.saved_by,
                        card.thumbnail_file_id,
                        card.posted_at_ms,
                    ),
                )

    def confirm(
        self, channel_id: str, clip_uuids: list[str], ts: str, *, thumbnail_pending: bool = False
    ) -> None:
        """Records the message `ts` that carries these clips in the channel."""
        with self._tx() as db:
            db.executemany(
                "UPDATE cards SET ts = ?, thumbnail_pending = ?"
                " WHERE channel_id = ? AND clip_uuid = ?",
                [(ts, int(thumbnail_pending), channel_id, uuid) for uuid in clip_uuids],
            )

    def set_thumbnail_pending(self, card: Card, pending: bool) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE cards SET thumbnail_pending = ? WHERE clip_uuid = ? AND channel_id = ?",
                (int(pending), card.clip.uuid, card.channel_id),
            )

    def release(self, channel_id: str, clip_uuids: list[str]) -> None:
        """Forgets reservations whose message was certainly not posted, so they are retried."""
        with self._tx() as db:
            db.executemany(
                "DELETE FROM cards WHERE channel_id = ? AND clip_uuid = ? AND ts IS NULL",
                [(channel_id, uuid) for uuid in clip_uuids],
            )

    def card(self, clip_uuid: str, channel_id: str) -> Card | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM cards WHERE clip_uuid = ? AND channel_id = ?",
                (clip_uuid, channel_id),
            ).fetchone()
        return _card(row) if row else None

    def posted_uuids(self, channel_id: str, clip_uuids: list[str]) -> set[str]:
        """Which of these clips the channel already has (or may have: reservations count)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT clip_uuid FROM cards WHERE channel_id = ? AND clip_uuid IN"
                f" ({','.join('?' * len(clip_uuids))})",
                (channel_id, *clip_uuids),
            ).fetchall()
        return {row[0] for row in rows}

    def last_ts_before_doubt(self, channel_id: str) -> str | None:
        """The bot's newest confirmed message in the channel from before its first card in doubt
        (by Slack's clock): a card in doubt, if it was posted at all, came after it."""
        with self._lock:
            row = self._db.execute(
                # rowid is insertion order, and a channel's cards are reserved one after another.
                "SELECT ts FROM cards WHERE channel_id = ? AND ts IS NOT NULL AND rowid <"
                " (SELECT MIN(rowid) FROM cards WHERE channel_id = ? AND ts IS NULL)"
                " ORDER BY CAST(ts AS REAL) DESC LIMIT 1",
                (channel_id, channel_id),
            ).fetchone()
        return str(row[0]) if row else None

    def cards(self, where: str = "1 = 1", args: tuple[Any, ...] = ()) -> list[Card]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM cards WHERE {where} ORDER BY posted_at_ms, clip_uuid", args
            ).fetchall()
        return [_card(row) for row in rows]

    def in_doubt(self) -> list[Card]:
        """Reservations whose posting was interrupted: posted or not, nobody knows yet."""
        return self.cards("ts IS NULL")

    def unfinished(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` whose clip was still being made."""
        return [
            c
            for c in self.cards(
                "kind = 'card' AND ts IS NOT NULL AND posted_at_ms >= ?", (since_ms,)
            )
            if c.clip.in_progress
        ]

    def thumbnails_pending(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` still waiting to show their thumbnail."""
        return self.cards(
            "kind = 'card' AND ts IS NOT NULL AND thumbnail_pending = 1 AND posted_at_ms >= ?",
            (since_ms,),
        )

    def refresh(self, card: Card) -> None:
        """Stores a card's newer clip facts and thumbnail."""
        with self._tx() as db:
            db.execute(
                "UPDATE cards SET clip = ?, camera_names = ?, thumbnail_file_id = ?"
                " WHERE clip_uuid = ? AND channel_id = ?",
                (
                    json.dumps(card.clip.to_json()),
                    json.dumps(list(card.camera_names)),
                    card.thumbnail_file_id,
                    card.clip.uuid,
                    card.channel_id,
                ),
            )

    def open_cards(self, channel_id: str) -> list[Card]:
        """Cards in the channel that are neither resolved nor false alarms, oldest first."""
        return self.cards(
            "channel_id = ? AND kind = 'card' AND ts IS NOT NULL AND state NOT IN (?, ?)",
            (channel_id, RESOLVED, FALSE_ALARM),
        )

    def posted_since(self, since_ms: int) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM cards WHERE ts IS NOT NULL AND posted_at_ms >= ?", (since_ms,)
            ).fetchone()
        return int(row[0])

    # -- triage -----------------------------------------------------------------------------

    def transition(
        self, card: Card, *, state: str, user: str, at_ms: int, action: str, note: str | None
    ) -> Card | None:
        """Moves a card from the state it was read in to `state`; None if someone moved it first."""
        owner = user if state == CLAIMED else card.owner if state in CLOSED_STATES else None
        with self._tx() as db:
            changed = db.execute(
                "UPDATE cards SET state = ?, state_by = ?, state_at_ms = ?, owner = ?, note = ?,"
                " version = version + 1 WHERE clip_uuid = ? AND channel_id = ? AND version = ?",
                (state, user, at_ms, owner, note, card.clip.uuid, card.channel_id, card.version),
            ).rowcount
            if not changed:
                return None
            db.execute(
                "INSERT INTO triage_events (clip_uuid, channel_id, action, user_id, at_ms,"
                " from_state, to_state, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (card.clip.uuid, card.channel_id, action, user, at_ms, card.state, state, note),
            )
        return replace(
            card,
            state=state,
            state_by=user,
            state_at_ms=at_ms,
            owner=owner,
            note=note,
            version=card.version + 1,
        )

    def events(self, clip_uuid: str, channel_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT action, user_id, at_ms, from_state, to_state, note FROM triage_events"
                " WHERE clip_uuid = ? AND channel_id = ? ORDER BY id",
                (clip_uuid, channel_id),
            ).fetchall()
        return [dict(row) for row in rows]

    def mark_reminded(self, card: Card) -> bool:
        """Marks a card reminded; False if it already was (so only one reminder goes out)."""
        with self._tx() as db:
            return bool(
                db.execute(
                    "UPDATE cards SET reminded = 1 WHERE clip_uuid = ? AND channel_id = ?"
                    " AND reminded = 0",
                    (card.clip.uuid, card.channel_id),
                ).rowcount
            )

    def posted_in(self, channel_id: str, since_ms: int) -> list[Card]:
        """The channel's clips posted (confirmed) since `since_ms`, oldest first."""
        return self.cards(
            "channel_id = ? AND ts IS NOT NULL AND posted_at_ms >= ?", (channel_id, since_ms)
        )

    def first_claims(self, channel_id: str, since_ms: int) -> dict[str, int]:
        """Clip uuid → when it was first claimed (ms), for clips in the channel claimed since."""
        with self._lock:
            rows = self._db.execute(
                "SELECT clip_uuid, MIN(at_ms) FROM triage_events WHERE channel_id = ?"
                " AND to_state = ? AND at_ms >= ? GROUP BY clip_uuid",
                (channel_id, CLAIMED, since_ms),
            ).fetchall()
        return {row[0]: int(row[1]) for row in rows}

    # -- daily summaries ----------------------------------------------------------------------

    def reserve_summary(self, record: SummaryRecord) -> bool:
        """Writes the day's record for the channel; False if it already had one (so: no post)."""
        with self._tx() as db:
            return bool(
                db.execute(
                    "INSERT INTO summaries (channel_id, day, state, ts, at_ms)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, day) DO NOTHING",
                    (record.channel_id, record.day, record.state, record.ts, record.at_ms),
                ).rowcount
            )

    def settle_summary(self, channel_id: str, day: str, state: str, ts: str | None) -> None:
        """Moves a reserved summary to `state` (posted with its `ts`, or skipped)."""
        with self._tx() as db:
            db.execute(
                "UPDATE summaries SET state = ?, ts = ? WHERE channel_id = ? AND day = ?",
                (state, ts, channel_id, day),
            )

    def release_summary(self, channel_id: str, day: str) -> None:
        """Forgets a reservation whose summary was certainly not posted, so it is tried again."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM summaries WHERE channel_id = ? AND day = ? AND state = ?",
                (channel_id, day, SUMMARY_RESERVED),
            )

    def summaries(self, state: str | None = None) -> list[SummaryRecord]:
        """Summary records (in one state, when given), oldest day first."""
        sql = "SELECT * FROM summaries"
        args: tuple[str, ...] = ()
        if state is not None:
            sql, args = sql + " WHERE state = ?", (state,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY day, channel_id", args).fetchall()
        return [
            SummaryRecord(r["channel_id"], r["day"], r["state"], r["at_ms"], r["ts"]) for r in rows
        ]

    # -- health -----------------------------------------------------------------------------

    def record_success(self, at_ms: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE health SET last_success_ms = ? WHERE id = 1", (at_ms,))

    def record_error(self, at_ms: int, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE health SET last_error = ?, last_error_ms = ? WHERE id = 1", (error, at_ms)
            )

    def health(self, posted_since_ms: int) -> Health:
        with self._lock:
            row = self._db.execute("SELECT * FROM health WHERE id = 1").fetchone()
        return Health(
            position_ms=self.position(),
            last_success_ms=row["last_success_ms"],
            last_error=row["last_error"],
            last_error_ms=row["last_error_ms"],
            posted_since=self.posted_since(posted_since_ms),
            posted_total=self.posted_since(0),
            broken=tuple(s for s in self.subscriptions() if s.broken),
        )


def _subscription(row: sqlite3.Row) -> Subscription:
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
        start_uuids=tuple(json.loads(row["start_uuids"])),
        broken=row["broken"],
    )


def _card(row: sqlite3.Row) -> Card:
    return Card(
        clip=Clip.from_json(json.loads(row["clip"])),
        channel_id=row["channel_id"],
        posted_at_ms=row["posted_at_ms"],
        ts=row["ts"],
        kind=row["kind"],
        camera_names=tuple(json.loads(row["camera_names"])),
        saved_by=row["saved_by"],
        thumbnail_file_id=row["thumbnail_file_id"],
        thumbnail_pending=bool(row["thumbnail_pending"]),
        state=row["state"],
        state_by=row["state_by"],
        state_at_ms=row["state_at_ms"],
        owner=row["owner"],
        note=row["note"],
        version=row["version"],
        reminded=bool(row["reminded"]),
    )
