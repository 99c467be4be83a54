"""Typed records built once from Rhombus API JSON, tolerant of any missing or null field."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)

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
    clip_region: str | None = None
    clip_location_v2: str | None = None
    byte_count: int | None = None  # the MP4's size in bytes, when Rhombus says

    @property
    def is_private(self) -> bool:
        """PRIVATE, ROLE_RESTRICTED, or anything else not known to be org-wide."""
        return self.visibility != ORG_WIDE

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Clip | None:
        """The clip in `data` (a getSavedClipsV2 / getSavedClipDetails record), or None when it
        is odd: no uuid to know it by, or no usable `createdAtMs` to place it in time."""
        uuid = _text(data.get("uuid"))
        created_at_ms = created_at(data.get("createdAtMs"))
        if not uuid or created_at_ms is None:
            return None
        access = _mapping(data.get("accessSettings"))
        return cls(
            uuid=uuid,
            title=_text(data.get("title")),
            description=_text(data.get("description")),
            created_at_ms=created_at_ms,
            timestamp_ms=created_at(data.get("timestampMs")),
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
            clip_region=_text(_mapping(data.get("clipLocation")).get("region")) or None,
            clip_location_v2=_text(data.get("clipLocationV2")) or None,
            byte_count=_int(data.get("byteCount")),
        )

    def to_json(self) -> dict[str, Any]:
        """Every field as a plain dict (`clipbot clips --json`); the store keeps its own form."""
        return asdict(self)


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


class OddRecords:
    """Saved-clip records set aside because they cannot be placed in time or identified.

    Each distinct record (known by its uuid, else by a digest of its JSON) is warned about and
    counted once, however many times the feed shows it. Thread-safe: the poller and `/clips`
    share one Rhombus client.
    """

    REMEMBERED = 10_000  # distinct odd records remembered; older ones may be warned about again

    def __init__(self) -> None:
        self._keys: dict[str, None] = {}
        self._count = 0
        self._new: list[str] = []  # keys set aside since `take_new` was last called
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Distinct odd records set aside since this was created."""
        return self._count

    def take_new(self) -> list[str]:
        """The keys of the odd records first set aside since the last call (for the store,
        which counts each record once across restarts)."""
        with self._lock:
            new, self._new = self._new, []
        return new

    def set_aside(self, record: Any) -> str:
        """Notes one odd record (a warning and a count the first time it is seen); its key."""
        key, why = _odd_key(record)
        with self._lock:
            if key in self._keys:
                return key
            self._keys[key] = None
            self._count += 1
            self._new.append(key)
            if len(self._keys) > self.REMEMBERED:
                del self._keys[next(iter(self._keys))]
        log.warning("rhombus feed: set aside saved clip %s: %s", key, why)
        return key


# The last millisecond a date can be shown in (9999-12-31, Python's datetime): a later time
# (microseconds sent as milliseconds, say) cannot be placed in time, shown or stored as a date.
LAST_MS = 253_402_300_799_999


def created_at(value: Any) -> int | None:
    """A usable time in milliseconds since the epoch (`createdAtMs`, `timestampMs`): positive
    and no later than 9999-12-31; else None."""
    ms = _int(value)
    return ms if ms is not None and 0 < ms <= LAST_MS else None


def _odd_key(record: Any) -> tuple[str, str]:
    """How an odd record is known (its uuid, else a digest of its JSON), and what is wrong."""
    data = record if isinstance(record, Mapping) else {}
    uuid = _text(data.get("uuid"))
    if uuid:
        return uuid, "no usable createdAtMs"
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
    why = "no uuid" if isinstance(record, Mapping) else "not a JSON object"
    return f"digest {digest[:16]}", why


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
