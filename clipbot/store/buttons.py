"""The store's button states: what a More button stands for, kept here behind a short key."""

from __future__ import annotations

import secrets

from clipbot.store.connection import Database


class ButtonQueries:
    """Button states: saved with an expiry, read back by key, dropped once expired."""

    _db: Database

    def save_button_state(self, state: str, now_ms: int, ttl_ms: int) -> str:
        """Keeps `state` (a More button's position, any text) until `now_ms + ttl_ms`; the short
        random key the button carries instead. Expired states are dropped here."""
        key = secrets.token_urlsafe(12)
        with self._db.transaction() as db:
            db.run("DELETE FROM button_states WHERE expires_at_ms < ?", (now_ms,))
            db.run(
                "INSERT INTO button_states (button_key, state, expires_at_ms) VALUES (?, ?, ?)",
                (key, state, now_ms + ttl_ms),
            )
        return key

    def button_state(self, key: str, now_ms: int) -> str | None:
        """The state saved under `key`; None when unknown or expired."""
        with self._db.reading() as db:
            row = db.one(
                "SELECT state FROM button_states WHERE button_key = ? AND expires_at_ms >= ?",
                (key, now_ms),
            )
        return str(row["state"]) if row else None
