"""The store's triage queries: presses that move a card from the version it was read at, their
events, and reminders."""

from __future__ import annotations

from dataclasses import replace

from clipbot.state import CLAIMED, CLOSED_STATES, Card, CardState, TriageEvent
from clipbot.store.connection import Database


class TriageQueries:
    """A card's triage state changed by presses (one winner per version), its events kept."""

    _db: Database

    def transition(
        self, card: Card, *, state: CardState, user: str, at_ms: int, action: str, note: str | None
    ) -> Card | None:
        """Moves a card from the state it was read in to `state`; None if someone moved it first."""
        owner = user if state == CLAIMED else card.owner if state in CLOSED_STATES else None
        with self._db.transaction() as db:
            changed = db.run(
                "UPDATE cards SET state = ?, state_by = ?, state_at_ms = ?, owner = ?, note = ?,"
                " version = version + 1, rev = rev + 1"
                " WHERE clip_uuid = ? AND channel_id = ? AND version = ?",
                (
                    state.value,
                    user,
                    at_ms,
                    owner,
                    note,
                    card.clip.uuid,
                    card.channel_id,
                    card.version,
                ),
            )
            if not changed:
                return None
            db.run(
                "INSERT INTO triage_events (clip_uuid, channel_id, action, user_id, at_ms,"
                " from_state, to_state, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    card.clip.uuid,
                    card.channel_id,
                    action,
                    user,
                    at_ms,
                    card.state.value,
                    state.value,
                    note,
                ),
            )
        return replace(
            card,
            state=state,
            state_by=user,
            state_at_ms=at_ms,
            owner=owner,
            note=note,
            version=card.version + 1,
            rev=card.rev + 1,
        )

    def events(self, clip_uuid: str, channel_id: str) -> list[TriageEvent]:
        """The card's stored presses, oldest first."""
        with self._db.reading() as db:
            rows = db.all(
                "SELECT action, user_id, at_ms, from_state, to_state, note FROM triage_events"
                " WHERE clip_uuid = ? AND channel_id = ? ORDER BY id",
                (clip_uuid, channel_id),
            )
        return [
            TriageEvent(
                action=row["action"],
                user_id=row["user_id"],
                at_ms=row["at_ms"],
                from_state=CardState(row["from_state"]),
                to_state=CardState(row["to_state"]),
                note=row["note"],
            )
            for row in rows
        ]

    def mark_reminded(self, card: Card) -> bool:
        """Marks a card reminded; False if it already was (so only one reminder goes out)."""
        with self._db.transaction() as db:
            return bool(
                db.run(
                    "UPDATE cards SET reminded = 1 WHERE clip_uuid = ? AND channel_id = ?"
                    " AND reminded = 0",
                    (card.clip.uuid, card.channel_id),
                )
            )

    def first_claims(self, channel_id: str, since_ms: int) -> dict[str, int]:
        """Clip uuid → when it was first claimed (ms), for clips in the channel claimed since."""
        with self._db.reading() as db:
            rows = db.all(
                "SELECT clip_uuid, MIN(at_ms) AS first_ms FROM triage_events WHERE channel_id = ?"
                " AND to_state = ? AND at_ms >= ? GROUP BY clip_uuid",
                (channel_id, CLAIMED.value, since_ms),
            )
        return {row["clip_uuid"]: int(row["first_ms"]) for row in rows}
