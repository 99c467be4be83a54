"""The store's card queries: cards reserved (several messages at once too), confirmed, released,
read and refreshed; presses are in triage.py."""

from __future__ import annotations

from typing import Any

from clipbot.state import (
    FALSE_ALARM,
    OPEN,
    RESOLVED,
    Card,
    CardKind,
    CardState,
    digest_key,
)
from clipbot.store.batching import GroupCommit
from clipbot.store.codec import clip_from_text, clip_to_text, names_from_text, names_to_text
from clipbot.store.connection import Connection, Database, Row
from clipbot.store.errors import StoreConflict

CARD_COLUMNS = (
    "clip_uuid, channel_id, ts, kind, clip, camera_names, saved_by, thumbnail_file_id,"
    " posted_at_ms, group_of, digest_of"
)


class CardQueries:
    """Cards: a clip posted to a channel (or reserved for it), and its triage state."""

    _db: Database
    _reservations: GroupCommit

    def reserve(self, cards: list[Card]) -> None:
        """Writes cards about to be posted (ts still unknown), all or none, durably.

        The clips of a digest (kind DIGEST) are written with its key (`digest_key`), which
        its message's metadata carries instead of their uuids. Raises StoreConflict when one is
        already there: another process has that clip.
        """
        if not self.reserve_each([cards])[0]:
            raise StoreConflict(f"{len(cards)} card(s) in {cards[0].channel_id}: one is reserved")

    def reserve_each(self, messages: list[list[Card]]) -> list[bool]:
        """Writes several messages' cards about to be posted, each message's all or none, in one
        durable transaction, shared with reservations made at the same time by other threads
        (see batching.py). Whether each message was written: False when one of its cards was
        there already (another process has that clip)."""
        return self._reservations.write(lambda db: [_reserved(db, cards) for cards in messages])

    def confirm(
        self,
        channel_id: str,
        clip_uuids: list[str],
        ts: str,
        *,
        thumbnail_pending: bool = False,
        thumbnail_file_id: str | None = None,
    ) -> None:
        """Records the message `ts` that carries these clips in the channel, and the thumbnail
        it shows when given (a card reserved before its thumbnail was uploaded). A thread line
        (burst grouping) confirmed now is counted on its card, once.

        Not waiting for the disk: lost only with the machine, it leaves the cards in doubt, and
        `delivery.settle` finds them in the channel's history (see Database.transaction)."""
        with self._db.transaction(durable=False) as db:
            db.many(
                "UPDATE cards SET grouped = grouped + 1, rev = rev + 1 WHERE channel_id = ? AND"
                " clip_uuid ="
                " (SELECT group_of FROM cards WHERE channel_id = ? AND clip_uuid = ?"
                " AND ts IS NULL)",
                [(channel_id, channel_id, uuid) for uuid in clip_uuids],
            )
            db.many(
                "UPDATE cards SET ts = ?, thumbnail_pending = ?,"
                " thumbnail_file_id = COALESCE(?, thumbnail_file_id)"
                " WHERE channel_id = ? AND clip_uuid = ?",
                [
                    (ts, int(thumbnail_pending), thumbnail_file_id, channel_id, uuid)
                    for uuid in clip_uuids
                ],
            )

    def set_thumbnail_pending(self, card: Card, pending: bool) -> None:
        with self._db.transaction() as db:
            db.run(
                "UPDATE cards SET thumbnail_pending = ? WHERE clip_uuid = ? AND channel_id = ?",
                (int(pending), card.clip.uuid, card.channel_id),
            )

    def release(self, channel_id: str, clip_uuids: list[str]) -> None:
        """Forgets reservations whose message was certainly not posted, so they are retried."""
        with self._db.transaction() as db:
            db.many(
                "DELETE FROM cards WHERE channel_id = ? AND clip_uuid = ? AND ts IS NULL",
                [(channel_id, uuid) for uuid in clip_uuids],
            )

    def card(self, clip_uuid: str, channel_id: str) -> Card | None:
        with self._db.reading() as db:
            row = db.one(
                "SELECT * FROM cards WHERE clip_uuid = ? AND channel_id = ?",
                (clip_uuid, channel_id),
            )
        return card_from_row(row) if row else None

    def posted_uuids(self, channel_id: str, clip_uuids: list[str]) -> set[str]:
        """Which of these clips the channel already has (or may have: reservations count)."""
        if not clip_uuids:
            return set()
        with self._db.reading() as db:
            rows = db.all(
                "SELECT clip_uuid FROM cards WHERE channel_id = ? AND clip_uuid IN"
                f" ({','.join('?' * len(clip_uuids))})",
                (channel_id, *clip_uuids),
            )
        return {row["clip_uuid"] for row in rows}

    def last_ts_before_doubt(self, channel_id: str) -> str | None:
        """The bot's newest confirmed message in the channel from before its first card in doubt
        (by Slack's clock): a card in doubt, if it was posted at all, came after it."""
        with self._db.reading() as db:
            value = db.scalar(
                # rowid is insertion order (PostgreSQL tables get one too: see postgres.py), and
                # a channel's cards are reserved one after another.
                "SELECT ts FROM cards WHERE channel_id = ? AND ts IS NOT NULL AND rowid <"
                " (SELECT MIN(rowid) FROM cards WHERE channel_id = ? AND ts IS NULL)"
                " ORDER BY CAST(ts AS DOUBLE PRECISION) DESC LIMIT 1",
                (channel_id, channel_id),
            )
        return str(value) if value is not None else None

    def _cards(self, where: str, args: tuple[Any, ...] = ()) -> list[Card]:
        with self._db.reading() as db:
            rows = db.all(
                f"SELECT * FROM cards WHERE {where} ORDER BY posted_at_ms, clip_uuid", args
            )
        return [card_from_row(row) for row in rows]

    def cards(self, channel_id: str | None = None) -> list[Card]:
        """Every card (of one channel, when given), oldest first."""
        if channel_id is None:
            return self._cards("1 = 1")
        return self._cards("channel_id = ?", (channel_id,))

    def in_doubt(self) -> list[Card]:
        """Reservations whose posting was interrupted: posted or not, nobody knows yet."""
        return self._cards("ts IS NULL")

    def unfinished(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` whose clip was still being made."""
        posted = self._cards(
            "kind IN (?, ?) AND ts IS NOT NULL AND posted_at_ms >= ?", ("card", "line", since_ms)
        )
        return [c for c in posted if c.clip.in_progress]

    def thumbnails_pending(self, since_ms: int) -> list[Card]:
        """Cards posted since `since_ms` still waiting to show their thumbnail."""
        return self._cards(
            "kind IN (?, ?) AND ts IS NOT NULL AND thumbnail_pending = 1 AND posted_at_ms >= ?",
            ("card", "line", since_ms),
        )

    def refresh(self, card: Card) -> None:
        """Stores a card's newer clip facts and thumbnail."""
        with self._db.transaction() as db:
            db.run(
                "UPDATE cards SET clip = ?, camera_names = ?, thumbnail_file_id = ?,"
                " rev = rev + 1 WHERE clip_uuid = ? AND channel_id = ?",
                (
                    clip_to_text(card.clip),
                    names_to_text(card.camera_names),
                    card.thumbnail_file_id,
                    card.clip.uuid,
                    card.channel_id,
                ),
            )

    def open_cards(self, channel_id: str) -> list[Card]:
        """Cards in the channel that are neither resolved nor false alarms, oldest first."""
        return self._cards(
            "channel_id = ? AND kind = ? AND ts IS NOT NULL AND state NOT IN (?, ?)",
            (channel_id, "card", RESOLVED.value, FALSE_ALARM.value),
        )

    def reminders_due(self, posted_before_ms: int) -> list[Card]:
        """Open cards posted before `posted_before_ms` that have had no reminder yet."""
        return self._cards(
            "kind = ? AND ts IS NOT NULL AND state = ? AND reminded = 0 AND posted_at_ms <= ?",
            ("card", OPEN.value, posted_before_ms),
        )

    def posted_in(self, channel_id: str, since_ms: int) -> list[Card]:
        """The channel's clips posted (confirmed) since `since_ms`, oldest first."""
        return self._cards(
            "channel_id = ? AND ts IS NOT NULL AND posted_at_ms >= ?", (channel_id, since_ms)
        )

    def posted_since(self, since_ms: int) -> int:
        with self._db.reading() as db:
            value = db.scalar(
                "SELECT COUNT(*) AS n FROM cards WHERE ts IS NOT NULL AND posted_at_ms >= ?",
                (since_ms,),
            )
        return int(value)


def _reserved(db: Connection, cards: list[Card]) -> bool:
    """Inserts the cards; False, inserting none, when one is there already. No driver error on
    a taken key: the transaction may carry other callers' reservations (see batching.py)."""
    digest = digest_key(cards) if cards and cards[0].kind is CardKind.DIGEST else None
    inserted: list[Card] = []
    for card in cards:
        if not db.run(
            f"INSERT INTO cards ({CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (clip_uuid, channel_id) DO NOTHING",
            (
                card.clip.uuid,
                card.channel_id,
                card.ts,
                card.kind.value,
                clip_to_text(card.clip),
                names_to_text(card.camera_names),
                card.saved_by,
                card.thumbnail_file_id,
                card.posted_at_ms,
                card.group_of,
                digest,
            ),
        ):
            db.many(  # the rows just inserted, so no other caller's
                "DELETE FROM cards WHERE channel_id = ? AND clip_uuid = ?",
                [(c.channel_id, c.clip.uuid) for c in inserted],
            )
            return False
        inserted.append(card)
    return True


def card_from_row(row: Row) -> Card:
    return Card(
        clip=clip_from_text(row["clip"]),
        channel_id=row["channel_id"],
        posted_at_ms=row["posted_at_ms"],
        ts=row["ts"],
        kind=CardKind(row["kind"]),
        camera_names=names_from_text(row["camera_names"]),
        saved_by=row["saved_by"],
        thumbnail_file_id=row["thumbnail_file_id"],
        thumbnail_pending=bool(row["thumbnail_pending"]),
        state=CardState(row["state"]),
        state_by=row["state_by"],
        state_at_ms=row["state_at_ms"],
        owner=row["owner"],
        note=row["note"],
        version=row["version"],
        rev=row["rev"],
        shown_rev=row["shown_rev"],
        reminded=bool(row["reminded"]),
        group_of=row["group_of"],
        digest_of=row["digest_of"],
        grouped=row["grouped"],
        grouped_shown=row["grouped_shown"],
    )
