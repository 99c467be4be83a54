"""Burst grouping, pure: which new clips go into the thread of a recent card instead of a card
of their own (`subscribe … group:2m`).

A clip joins the newest card in the channel from the same camera whose clip was saved less
than the window before it (by the feed's `createdAtMs`, never this machine's clock). Only a
card starts a group; a clip that joins one never does, so a burst longer than the window
starts a new card.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clipbot.records import Clip


@dataclass(frozen=True, slots=True)
class Parent:
    """A card that clips can join: its clip's uuid, camera and `createdAtMs`."""

    clip_uuid: str
    camera_id: str
    created_at_ms: int


def camera_of(clip: Clip) -> str | None:
    """The camera a clip is grouped by: its first camera (None: it never groups)."""
    return clip.camera_ids[0] if clip.camera_ids else None


def group(clips: Iterable[Clip], window_ms: int, parents: Iterable[Parent]) -> dict[str, str]:
    """Clip uuid → the clip uuid of the card whose thread it joins, for `clips` (oldest first)
    that join one; the others get cards of their own and can be joined by later ones."""
    newest: dict[str, Parent] = {}
    for parent in sorted(parents, key=lambda p: p.created_at_ms):
        newest[parent.camera_id] = parent
    joins: dict[str, str] = {}
    for clip in clips:
        camera = camera_of(clip)
        if camera is None:
            continue
        joined = newest.get(camera)
        if joined is not None and 0 <= clip.created_at_ms - joined.created_at_ms < window_ms:
            joins[clip.uuid] = joined.clip_uuid
        else:
            newest[camera] = Parent(clip.uuid, camera, clip.created_at_ms)
    return joins
