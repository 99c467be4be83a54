"""The store's video queries: a clip's MP4 uploaded to Slack once, shared by later presses."""

from __future__ import annotations

from clipbot.state import VideoFile
from clipbot.store.connection import Database

VIDEO_COLUMNS = (
    "clip_uuid, file_id, permalink, size_bytes, channel_id, thread_ts, uploaded_by, uploaded_at_ms"
)


class VideoQueries:
    """Videos by clip: the first upload recorded wins (two replicas may race to upload)."""

    _db: Database

    def video(self, clip_uuid: str) -> VideoFile | None:
        """The clip's MP4 already uploaded to Slack, if it was."""
        with self._db.reading() as db:
            row = db.one(f"SELECT {VIDEO_COLUMNS} FROM videos WHERE clip_uuid = ?", (clip_uuid,))
        return VideoFile(**row) if row else None

    def record_video(self, video: VideoFile) -> None:
        """Remembers an upload so later presses share it instead of uploading again."""
        with self._db.transaction() as db:
            db.run(
                f"INSERT INTO videos ({VIDEO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (clip_uuid) DO NOTHING",
                (
                    video.clip_uuid,
                    video.file_id,
                    video.permalink,
                    video.size_bytes,
                    video.channel_id,
                    video.thread_ts,
                    video.uploaded_by,
                    video.uploaded_at_ms,
                ),
            )

    def claim_video_fetch(self, clip_uuid: str, at_ms: int, *, stale_before_ms: int) -> bool:
        """Takes the right to download the clip's video (any replica); False while another
        fetch claimed at or after `stale_before_ms` holds it."""
        with self._db.transaction() as db:
            db.run(
                "DELETE FROM video_fetches WHERE clip_uuid = ? AND started_at_ms < ?",
                (clip_uuid, stale_before_ms),
            )
            return bool(
                db.run(
                    "INSERT INTO video_fetches (clip_uuid, started_at_ms) VALUES (?, ?)"
                    " ON CONFLICT (clip_uuid) DO NOTHING",
                    (clip_uuid, at_ms),
                )
            )

    def release_video_fetch(self, clip_uuid: str) -> None:
        """Gives the download right back (the fetch ended, uploaded or not)."""
        with self._db.transaction() as db:
            db.run("DELETE FROM video_fetches WHERE clip_uuid = ?", (clip_uuid,))
