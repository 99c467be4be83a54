"""Typed records built once from Rhombus API JSON, tolerant of any missing or null field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

IN_PROGRESS = frozenset({"INITIATING", "UPLOADING", "RENDERING"})
STATUSES = ("INITIATING", "UPLOADING", "RENDERING", "COMPLETE", "FAILED", "OFFLINE", "DELETED")
ORG_WIDE = "ORG_WIDE"


@dataclass(frozen=True, slots=True)
class Clip:
    """One saved clip, as clipbot uses it."""

    uuid: str
    title: str = ""
    description: str = ""
    created_at_ms: int = 0
    timestamp_ms: int | None = None
    duration_sec: int | None = None
    status: str = "UNKNOWN"
    camera_ids: tuple[str, ...] = ()
    user_uuid: str | None = None
    visibility: str = ORG_WIDE
    source_alert_uuid: str | None = None
    is_monitoring_clip: bool = False
    thumbnail_region: str | None = None
    thumbnail_location_v2: str | None = None

    @property
    def is_private(self) -> bool:
        """PRIVATE, ROLE_RESTRICTED, or anything else not known to be org-wide."""
        return self.visibility != ORG_WIDE

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Clip | None:
        """The clip in `data`, or None when it has no uuid to know it by."""
        uuid = _text(data.get("uuid"))
        if not uuid:
            return None
        access = _mapping(data.get("accessSettings"))
        return cls(
            uuid=uuid,
            title=_text(data.get("title")),
            description=_text(data.get("description")),
            created_at_ms=_int(data.get("createdAtMs")) or 0,
            timestamp_ms=_int(data.get("timestampMs")),
            duration_sec=_int(data.get("durationSec")),
            status=(_text(data.get("status")) or "UNKNOWN").upper(),
            camera_ids=_camera_ids(data),
            user_uuid=_text(data.get("userUuid")) or None,
            # Rhombus's default visibility is org-wide; any other value is treated as restricted.
            visibility=(_text(access.get("visibility")) or ORG_WIDE).upper(),
            source_alert_uuid=_text(data.get("sourceAlertUuid")) or None,
            is_monitoring_clip=data.get("isMonitoringClip") is True,
            thumbnail_region=_text(_mapping(data.get("thumbnailLocation")).get("region")) or None,
            thumbnail_location_v2=_text(data.get("thumbnailLocationV2")) or None,
        )

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the store; `from_json` reads it back."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Clip:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["camera_ids"] = tuple(fields.get("camera_ids") or ())
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Camera:
    uuid: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Camera | None:
        uuid = camera_id(_text(data.get("uuid")))
        if not uuid:
            return None
        return cls(uuid=uuid, name=_text(data.get("name")) or uuid)


@dataclass(frozen=True, slots=True)
class User:
    uuid: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> User | None:
        uuid = _text(data.get("uuid"))
        if not uuid:
            return None
        full = " ".join(p for p in (_text(data.get("firstName")), _text(data.get("lastName"))) if p)
        name = _text(data.get("name")) or full or _text(data.get("email")) or uuid
        return cls(uuid=uuid, name=name)


@dataclass(frozen=True, slots=True)
class SharedLink:
    url: str
    uuid: str | None
    expires_at_ms: int


def camera_id(device_id: str) -> str:
    """The bare 22-character camera ID of a device ID that may carry a facet suffix (`.v0`)."""
    return device_id.split(".", 1)[0].strip()


def _camera_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Every camera of the clip, in presentation order, each once."""
    raw: list[Any] = [*_list(data.get("devicePresentationOrder")), *_list(data.get("deviceUuids"))]
    raw.append(data.get("deviceUuid"))
    ids = (camera_id(_text(item)) for item in raw)
    return tuple(dict.fromkeys(i for i in ids if i))


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
