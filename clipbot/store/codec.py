"""How a clip is kept in the store: every field named here, so renaming one is a migration.

The stored keys are part of the schema. Changing a `Clip` field means changing this mapping
and, if the stored key changes too, appending a migration that rewrites the stored clips.
"""

from __future__ import annotations

import json
from typing import Any

from clipbot.records import ORG_WIDE, Clip


def clip_to_text(clip: Clip) -> str:
    """The clip as the JSON text stored in `cards.clip`."""
    return json.dumps(
        {
            "uuid": clip.uuid,
            "title": clip.title,
            "description": clip.description,
            "created_at_ms": clip.created_at_ms,
            "timestamp_ms": clip.timestamp_ms,
            "duration_sec": clip.duration_sec,
            "status": clip.status,
            "camera_ids": list(clip.camera_ids),
            "user_uuid": clip.user_uuid,
            "visibility": clip.visibility,
            "source_alert_uuid": clip.source_alert_uuid,
            "is_monitoring_clip": clip.is_monitoring_clip,
            "thumbnail_region": clip.thumbnail_region,
            "thumbnail_location_v2": clip.thumbnail_location_v2,
            "clip_region": clip.clip_region,
            "clip_location_v2": clip.clip_location_v2,
            "byte_count": clip.byte_count,
        }
    )


def clip_from_text(text: str) -> Clip:
    """The clip stored by `clip_to_text`; keys missing from older rows take the defaults."""
    data: dict[str, Any] = json.loads(text)
    return Clip(
        uuid=data["uuid"],
        title=data.get("title", ""),
        description=data.get("description", ""),
        created_at_ms=data.get("created_at_ms", 0),
        timestamp_ms=data.get("timestamp_ms"),
        duration_sec=data.get("duration_sec"),
        status=data.get("status", "UNKNOWN"),
        camera_ids=tuple(data.get("camera_ids") or ()),
        user_uuid=data.get("user_uuid"),
        visibility=data.get("visibility", ORG_WIDE),
        source_alert_uuid=data.get("source_alert_uuid"),
        is_monitoring_clip=bool(data.get("is_monitoring_clip", False)),
        thumbnail_region=data.get("thumbnail_region"),
        thumbnail_location_v2=data.get("thumbnail_location_v2"),
        clip_region=data.get("clip_region"),
        clip_location_v2=data.get("clip_location_v2"),
        byte_count=data.get("byte_count"),
    )


def names_to_text(names: tuple[str, ...]) -> str:
    """A tuple of strings (camera names, start uuids) as stored: a JSON list."""
    return json.dumps(list(names))


def names_from_text(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))
