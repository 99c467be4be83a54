"""What the store promises for running the bot, rather than posting and triaging clips: the
leader's lease, the audit trail and deliveries, videos, mutes, health and pruning (see base.py
for the promises every write keeps)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from clipbot.quiet import Mute
from clipbot.state import AuditEntry, Expired, Health, VideoFile


class OperationsStore(Protocol):
    """The store's records about the bot itself, grouped by kind."""

    # -- the leader's lease -----------------------------------------------------------------

    def claim_lease(self, holder: str, lease_ms: int) -> bool:
        """Takes or renews the lease for `lease_ms` (the database's clock) unless another
        holder's has not run out; whether `holder` holds it now."""
        ...

    def release_lease(self, holder: str) -> None:
        """Gives the lease up, if `holder` has it."""
        ...

    def lease_holder(self) -> str | None:
        """Who holds the lease now, if anyone."""
        ...

    # -- the audit trail and deliveries ------------------------------------------------------

    def record_audit(self, entry: AuditEntry, *, prune_before_ms: int) -> None:
        """Adds an entry to the audit trail and drops entries older than `prune_before_ms`."""
        ...

    def audit(self, since_ms: int) -> list[AuditEntry]:
        """The audit trail from `since_ms` on, newest first."""
        ...

    def first_delivery(self, key: str, at_ms: int, *, forget_before_ms: int) -> bool:
        """Notes a Slack delivery; False if `key` was noted already (a retry: do not act again)."""
        ...

    # -- videos -----------------------------------------------------------------------------

    def video(self, clip_uuid: str) -> VideoFile | None:
        """The clip's MP4 already uploaded to Slack, if it was."""
        ...

    def record_video(self, video: VideoFile) -> None:
        """Remembers an upload so later presses share it; the first one recorded is kept."""
        ...

    def claim_video_fetch(self, clip_uuid: str, at_ms: int, *, stale_before_ms: int) -> bool:
        """Takes the right to download the clip's video (any replica); False while another
        fetch claimed at or after `stale_before_ms` holds it."""
        ...

    def release_video_fetch(self, clip_uuid: str) -> None:
        """Gives the download right back (the fetch ended, uploaded or not)."""
        ...

    # -- mutes -------------------------------------------------------------------------------

    def mute(
        self, channel_id: str, camera: str, start_ms: int, until_ms: int, created_by: str
    ) -> Mute:
        """Mutes the camera in the channel until `until_ms` (a running mute of the same camera
        there is extended or shortened instead)."""
        ...

    def unmute(self, channel_id: str, camera: str | None, at_ms: int) -> list[Mute]:
        """Ends the channel's running mutes (of one camera, or all) at `at_ms`; those ended."""
        ...

    def mutes(self, until_after_ms: int, channel_id: str | None = None) -> list[Mute]:
        """Mutes (of one channel, when given) that end after `until_after_ms`, oldest first."""
        ...

    def hold(self, held: Iterable[tuple[int, str, int]]) -> None:
        """Notes clips held back: (mute id, clip uuid, createdAtMs), each counted once."""
        ...

    def held_back(self, channel_id: str, clip_uuids: list[str]) -> set[str]:
        """Which of these clips a mute of the channel held back (they stay held)."""
        ...

    def held_count(self, mute_id: int) -> int:
        """How many clips the mute held back."""
        ...

    # -- health -----------------------------------------------------------------------------

    def record_success(self, at_ms: int) -> None:
        """A cycle read the feed and every channel got what it was due."""
        ...

    def record_progress(self, at_ms: int) -> None:
        """A cycle still running delivered something at `at_ms` (epoch ms)."""
        ...

    def record_error(self, at_ms: int, error: str) -> None:
        """A cycle failed (Rhombus, or posting to some channel): `error` says why."""
        ...

    def note_odd_records(self, keys: list[str], at_ms: int) -> None:
        """Counts odd feed records set aside (no usable createdAtMs or uuid), by their key
        (uuid, else a digest of the record): each once, across restarts too."""
        ...

    def health(self, posted_since_ms: int) -> Health:
        """The poller's health as its cycles wrote it (outcome, failures in a row, last success
        and error), the position, counts, odd records skipped and broken channels."""
        ...

    def record_start(self, at_ms: int) -> None:
        """Writes down that a `clipbot run` started at `at_ms` (epoch ms)."""
        ...

    def started_at(self) -> int | None:
        """When the newest `clipbot run` started (epoch ms); None if none ever did."""
        ...

    # -- pruning ------------------------------------------------------------------------------

    def prune(self, expired: Expired) -> dict[str, int]:
        """Deletes the rows that can no longer matter (see Expired); how many, by kind."""
        ...
