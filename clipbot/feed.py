"""Walking getSavedClipsV2, whichever way it pages: the order is learnt from the data.

The API documents neither its page order nor whether `pageTimestampMs` is an upper or a
lower bound, so every walk de-duplicates by uuid, treats the position as inclusive, and
never assumes a page boundary falls between distinct timestamps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clipbot.records import Clip, OddRecords, created_at

log = logging.getLogger(__name__)

WINDOW_MS = 3_600_000  # first look-back window when the feed pages oldest-first
Order = Literal["desc", "asc"]


@dataclass(frozen=True, slots=True)
class Page:
    """One getSavedClipsV2 answer: its usable clips in the answer's order, odd records left out."""

    clips: list[Clip]
    size: int  # records in the answer, odd ones included: a full page means there may be more
    next_ms: int | None  # lastEvaluatedTimestampMs when usable; None when absent or null

    @classmethod
    def from_api(cls, data: Mapping[str, Any], odd: OddRecords) -> Page:
        """The page in a getSavedClipsV2 answer; each odd record goes to `odd` instead."""
        raw = data.get("savedClips")
        records: list[Any] = raw if isinstance(raw, list) else []
        clips: list[Clip] = []
        for record in records:
            clip = Clip.from_api(record) if isinstance(record, Mapping) else None
            if clip is None:
                odd.set_aside(record)
            else:
                clips.append(clip)
        next_ms = created_at(data.get("lastEvaluatedTimestampMs"))
        return cls(clips=clips, size=len(records), next_ms=next_ms)


class Feed:
    """The saved-clip feed over a function that fetches one page at a position."""

    def __init__(
        self, fetch: Callable[[int | None], Page], page_size: int, now_ms: Callable[[], int]
    ) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._now_ms = now_ms
        self._order: Order | None = None

    def clips_since(self, since_ms: int) -> list[Clip]:
        """Every clip saved at or after `since_ms`, oldest first, each once."""
        if self._order == "asc":
            pages = self._walk(self._fetch(since_ms), since_ms, "asc")
        else:
            first = self._fetch(None)
            order = self._learn_order(first)
            if order == "asc":
                pages = self._walk(self._fetch(since_ms), since_ms, "asc")
            else:
                pages = self._walk(first, None, "desc", stop=lambda p: _oldest(p) < since_ms)
        found = (c for page in pages for c in page.clips if c.created_at_ms >= since_ms)
        return sorted(_unique(found), key=lambda c: (c.created_at_ms, c.uuid))

    def recent(self, before_ms: int | None = None) -> Iterator[Clip]:
        """Saved clips newest first (at or before `before_ms`), each once, a page at a time."""
        if before_ms is not None and self._order is None:
            self._learn_order(self._fetch(None))
        first = self._fetch(before_ms if self._order != "asc" else None)
        order = self._learn_order(first)
        if first.size < self._page_size and (before_ms is None or order != "asc"):
            found: Iterable[Clip] = sorted(first.clips, key=lambda c: -c.created_at_ms)
        elif order == "asc":
            found = self._recent_from_ascending(first, before_ms)
        else:
            found = (c for page in self._walk(first, before_ms, "desc") for c in page.clips)
        yield from _unique(c for c in found if before_ms is None or c.created_at_ms <= before_ms)

    def _learn_order(self, first: Page) -> Order | None:
        """The feed's page order, as shown by the data (remembered once seen)."""
        if self._order is None and first.clips:
            head, tail = first.clips[0].created_at_ms, first.clips[-1].created_at_ms
            if head == tail and first.size >= self._page_size:
                # A full page of one timestamp shows no order: look just past it.
                probe = self._fetch(head + 1)
                tail = head + 1 if any(c.created_at_ms > head for c in probe.clips) else head - 1
            if head != tail:
                self._order = "desc" if head > tail else "asc"
                log.info("rhombus feed pages %s", "newest-first" if head > tail else "oldest-first")
        return self._order

    def _walk(
        self,
        first: Page,
        start_ms: int | None,
        order: Order,
        stop: Callable[[Page], bool] = lambda page: False,
    ) -> Iterator[Page]:
        """Pages from `first` on, following the API's position, until a short page or `stop`."""
        page, at, seen, stale = first, start_ms, set[str](), 0
        while True:
            yield page
            fresh = {c.uuid for c in page.clips} - seen
            seen |= fresh
            stale = 0 if fresh else stale + 1
            next_ms = page.next_ms
            if next_ms is None and page.clips:
                next_ms = page.clips[-1].created_at_ms
            if page.size < self._page_size or next_ms is None or stop(page) or stale > 1:
                return
            at = self._next_position(next_ms, at, order, bool(fresh))
            page = self._fetch(at)

    def _next_position(self, next_ms: int, at: int | None, order: Order, fresh: bool) -> int:
        # A position that does not move (a full page of one timestamp, or a page of repeats)
        # would loop for ever: step one millisecond past it in the feed's direction.
        if next_ms != at and fresh:
            return next_ms
        log.warning("rhombus feed position stuck at %s; stepping past it", next_ms)
        return next_ms + 1 if order == "asc" else next_ms - 1

    def _recent_from_ascending(self, first: Page, before_ms: int | None) -> Iterator[Clip]:
        """Newest first from an oldest-first feed: ever wider windows walked back from now."""
        oldest = first.clips[0].created_at_ms if first.clips else 0
        high = None if before_ms is None else before_ms + 1
        span = WINDOW_MS
        low = (self._now_ms() if high is None else high) - span
        while True:
            low = max(low, oldest)
            batch: list[Clip] = []
            for page in self._walk(self._fetch(low), low, "asc"):
                batch.extend(c for c in page.clips if high is None or c.created_at_ms < high)
                if high is not None and page.clips and _newest(page) >= high:
                    break
            yield from sorted(batch, key=lambda c: -c.created_at_ms)
            if low <= oldest:
                return
            high, span = low, span * 4
            low = high - span


def _unique(clips: Iterable[Clip]) -> Iterator[Clip]:
    seen: set[str] = set()
    for clip in clips:
        if clip.uuid not in seen:
            seen.add(clip.uuid)
            yield clip


def _oldest(page: Page) -> int:
    return min((c.created_at_ms for c in page.clips), default=0)


def _newest(page: Page) -> int:
    return max((c.created_at_ms for c in page.clips), default=0)
