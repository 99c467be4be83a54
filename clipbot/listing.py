"""Finding clips for /clips: filters applied while paging back, within a bounded scan."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from clipbot.query import ListQuery
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient

MAX_SCAN = 500  # clips looked at per answer, so a narrow filter never walks years of history


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing stopped: clips saved at or before `before_ms`, except `seen` ones."""

    before_ms: int
    seen: tuple[str, ...] = ()

    def to_value(self, text: str) -> str:
        """The More button's value: the command text and this position."""
        return json.dumps({"q": text, "b": self.before_ms, "x": list(self.seen)})

    @staticmethod
    def from_value(value: str) -> tuple[str, Cursor] | None:
        try:
            data = json.loads(value)
            return str(data["q"]), Cursor(int(data["b"]), tuple(str(u) for u in data["x"]))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class Found:
    """One screenful of matching clips, and what was left out or not looked at."""

    clips: list[Clip] = field(default_factory=list)
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hidden: int = 0
    scanned: int = 0
    more: Cursor | None = None
    scan_limited: bool = False


def matches(query: ListQuery, clip: Clip, names: tuple[str, ...]) -> bool:
    """Whether a clip passes the query's camera, status and word filters."""
    if query.camera and not any(query.camera.casefold() in n.casefold() for n in names):
        return False
    if query.status and clip.status != query.status:
        return False
    text = f"{clip.title}\n{clip.description}".casefold()
    return all(word.casefold() in text for word in query.words)


def search(
    rhombus: RhombusClient,
    query: ListQuery,
    now_ms: int,
    cursor: Cursor | None = None,
    max_scan: int = MAX_SCAN,
) -> Found:
    """The newest clips matching `query`, from `cursor` back; private ones are only counted."""
    found = Found()
    cutoff = now_ms - query.since_ms if query.since_ms else None
    last: Clip | None = None
    seen_at_last: list[str] = []
    for clip in rhombus.recent(cursor.before_ms if cursor else None):
        if cursor and clip.created_at_ms == cursor.before_ms and clip.uuid in cursor.seen:
            continue
        if cutoff is not None and clip.created_at_ms < cutoff:
            return found
        if len(found.clips) == query.limit or found.scanned == max_scan:
            found.scan_limited = found.scanned == max_scan and len(found.clips) < query.limit
            found.more = _cursor(last, seen_at_last, cursor)
            return found
        found.scanned += 1
        tied = last is not None and last.created_at_ms == clip.created_at_ms
        seen_at_last = [*seen_at_last, clip.uuid] if tied else [clip.uuid]
        last = clip
        names = rhombus.camera_names(clip.camera_ids)
        if not matches(query, clip, names):
            continue
        if clip.is_private:
            found.hidden += 1
            continue
        found.clips.append(clip)
        found.names[clip.uuid] = names
    return found


def _cursor(last: Clip | None, seen: list[str], previous: Cursor | None) -> Cursor | None:
    if last is None:
        return previous
    if previous and previous.before_ms == last.created_at_ms:
        seen = [*previous.seen, *seen]
    return Cursor(last.created_at_ms, tuple(seen))
