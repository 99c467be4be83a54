"""The store's mute queries: mutes per channel and camera, and the clips each one held back."""

from __future__ import annotations

from collections.abc import Iterable

from clipbot.quiet import Mute
from clipbot.store.connection import Connection, Database, Row

MUTE_COLUMNS = "id, channel_id, camera, start_ms, until_ms, created_by"


class MuteQueries:
    """Mutes end by time (`until_ms`); an unmute moves that time to now, so what a mute held
    stays decided by each clip's createdAtMs, whenever a cycle reads it."""

    _db: Database

    def mute(
        self, channel_id: str, camera: str, start_ms: int, until_ms: int, created_by: str
    ) -> Mute:
        """Mutes the camera in the channel until `until_ms`; a mute of the same camera still
        running there is extended or shortened instead (keeping its count)."""
        with self._db.transaction() as db:
            running = _running(db, channel_id, start_ms, camera)
            if running:
                db.run("UPDATE mutes SET until_ms = ? WHERE id = ?", (until_ms, running[0].id))
                row = db.one(f"SELECT {MUTE_COLUMNS} FROM mutes WHERE id = ?", (running[0].id,))
            else:
                row = db.one(
                    "INSERT INTO mutes (channel_id, camera, start_ms, until_ms, created_by)"
                    f" VALUES (?, ?, ?, ?, ?) RETURNING {MUTE_COLUMNS}",
                    (channel_id, camera, start_ms, until_ms, created_by),
                )
        assert row is not None
        return _mute(row)

    def unmute(self, channel_id: str, camera: str | None, at_ms: int) -> list[Mute]:
        """Ends the channel's running mutes (of one camera, or all) at `at_ms`; those ended."""
        with self._db.transaction() as db:
            ended = _running(db, channel_id, at_ms, camera)
            db.many("UPDATE mutes SET until_ms = ? WHERE id = ?", [(at_ms, m.id) for m in ended])
        return [Mute(m.id, m.channel_id, m.camera, m.start_ms, at_ms, m.created_by) for m in ended]

    def mutes(self, until_after_ms: int, channel_id: str | None = None) -> list[Mute]:
        """Mutes (of one channel, when given) that end after `until_after_ms`, oldest first."""
        sql = f"SELECT {MUTE_COLUMNS} FROM mutes WHERE until_ms > ?"
        args: tuple[object, ...] = (until_after_ms,)
        if channel_id is not None:
            sql, args = sql + " AND channel_id = ?", (*args, channel_id)
        with self._db.reading() as db:
            return [_mute(row) for row in db.all(sql + " ORDER BY id", args)]

    def hold(self, held: Iterable[tuple[int, str, int]]) -> None:
        """Notes clips held back: (mute id, clip uuid, createdAtMs); one seen again counts once."""
        with self._db.transaction() as db:
            db.many(
                "INSERT INTO held (mute_id, clip_uuid, created_at_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (mute_id, clip_uuid) DO NOTHING",
                held,
            )

    def held_back(self, channel_id: str, clip_uuids: list[str]) -> set[str]:
        """Which of these clips a mute of the channel held back: they stay held, whatever
        later becomes of the mute."""
        if not clip_uuids:
            return set()
        with self._db.reading() as db:
            rows = db.all(
                "SELECT h.clip_uuid FROM held h JOIN mutes m ON m.id = h.mute_id"
                f" WHERE m.channel_id = ? AND h.clip_uuid IN ({','.join('?' * len(clip_uuids))})",
                (channel_id, *clip_uuids),
            )
        return {row["clip_uuid"] for row in rows}

    def held_count(self, mute_id: int) -> int:
        """How many clips the mute held back."""
        with self._db.reading() as db:
            return int(db.scalar("SELECT COUNT(*) FROM held WHERE mute_id = ?", (mute_id,)))


def _running(db: Connection, channel_id: str, at_ms: int, camera: str | None) -> list[Mute]:
    rows = db.all(
        f"SELECT {MUTE_COLUMNS} FROM mutes WHERE channel_id = ? AND until_ms > ? ORDER BY id",
        (channel_id, at_ms),
    )
    mutes = [_mute(row) for row in rows]
    return [m for m in mutes if camera is None or m.camera.casefold() == camera.casefold()]


def _mute(row: Row) -> Mute:
    return Mute(
        id=int(row["id"]),
        channel_id=row["channel_id"],
        camera=row["camera"],
        start_ms=row["start_ms"],
        until_ms=row["until_ms"],
        created_by=row["created_by"],
    )
