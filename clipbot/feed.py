"""Walking getSavedClipsV2 correctly however it pages; the feed's ways are learnt from the data.

Rhombus documents neither the page order (newest- or oldest-first), nor whether
`pageTimestampMs` is an inclusive or an exclusive bound, nor what `lastEvaluatedTimestampMs`
holds. So:

- the order is read off the first page (one that cannot tell is probed far in the future);
- each next page is asked for so that it starts AT the last timestamp already read, under
  either bound: at that timestamp once the bound is known to be inclusive (proved by a page
  holding a clip, or a lastEvaluatedTimestampMs, at exactly its pageTimestampMs, which an
  exclusive bound never gives), one millisecond before it until then. Clips sharing a
  timestamp across a page boundary are read again and de-duplicated by uuid;
- a full page holding only one timestamp cannot move the walk on: the next page starts one
  millisecond past it. Only the first `page_size` records of a timestamp are ever visible to
  a timestamp cursor, under either bound, so a group of more clips saved in the same
  millisecond is read only that far (logged once); with pages of 100 that means more than 100
  clips saved in one millisecond;
- odd records (no usable uuid or createdAtMs) never move, stop or order a walk; a full page of
  nothing but odd records is passed using lastEvaluatedTimestampMs, and without it by a search
  over positions (doubling, then halving back) that passes no clip: about two requests per bit
  of the run's span, some 80 at worst;
- a page shorter than asked for is the end of the feed in that direction (the API documents
  maxPageSize as honoured up to 100);
- every walk ends: each request moves the position on, and a third page in a row with nothing
  new stops it (logged once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from clipbot.records import Clip, OddRecords, created_at

log = logging.getLogger(__name__)

WINDOW_MS = 3_600_000  # first look-back window when the feed pages oldest-first
FAR_FUTURE_MS = 4_102_444_800_000  # 2100-01-01: a position past every clip
STALE_PAGES = 3  # pages in a row with nothing new that end a walk (a correct feed gives two)
Order = Literal["desc", "asc"]


@dataclass(frozen=True, slots=True)
class Page:
    """One getSavedClipsV2 answer: its usable clips in the answer's order, odd records left out."""

    clips: list[Clip]
    size: int  # records in the answer, odd ones included: a full page means there may be more
    next_ms: int | None  # lastEvaluatedTimestampMs when usable; None when absent or null
    odd: tuple[str, ...] = ()  # the odd records set aside, by uuid or digest

    @classmethod
    def from_api(
        cls, data: Mapping[str, Any], odd: OddRecords, latest_ms: int | None = None
    ) -> Page:
        """The page in a getSavedClipsV2 answer; each odd record goes to `odd` instead, and so
        does a clip saved after `latest_ms` (epoch ms): a createdAtMs from the future would carry
        the feed position past every clip saved until then."""
        raw = data.get("savedClips")
        records: list[Any] = raw if isinstance(raw, list) else []
        clips: list[Clip] = []
        odd_keys: list[str] = []
        for record in records:
            clip = Clip.from_api(record) if isinstance(record, Mapping) else None
            if clip is not None and latest_ms is not None and clip.created_at_ms > latest_ms:
                clip = None
            if clip is None:
                odd_keys.append(odd.set_aside(record))
            else:
                clips.append(clip)
        next_ms = created_at(data.get("lastEvaluatedTimestampMs"))
        return cls(clips=clips, size=len(records), next_ms=next_ms, odd=tuple(odd_keys))


class Feed:
    """The saved-clip feed over a function that fetches one page at a position.

    `fetch(page_timestamp_ms)` answers one getSavedClipsV2 request of `page_size` records
    (None: no position, the API's default start); `now_ms` is the clock used only to window
    newest-first listings of an oldest-first feed.
    """

    def __init__(
        self, fetch: Callable[[int | None], Page], page_size: int, now_ms: Callable[[], int]
    ) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._now_ms = now_ms
        self._order: Order | None = None
        self._inclusive = False  # pageTimestampMs proved to be an inclusive bound
        self._warned: set[tuple[str, int | None]] = set()

    def clips_since(
        self, since_ms: int, read: Callable[[list[Clip]], object] = lambda clips: None
    ) -> list[Clip]:
        """Every clip saved at or after `since_ms` (ms), oldest first, each once.

        `read(clips)` hears of those clips a page at a time, as soon as each page is read (in
        the walk's order: newest first in a newest-first feed), each clip once: work on them
        can start while the walk goes on. The list returned is the walk's whole answer.
        """

        def since(clips: list[Clip]) -> None:
            read([c for c in clips if c.created_at_ms >= since_ms])

        first = None if self._order else self._get(None)
        order = self._order or self._learn_order(first)
        if order == "asc":
            walk: Iterable[Clip] = self._walk(
                "asc", since_ms if since_ms > 0 else None, pages=since
            )
        elif order == "desc":
            walk = self._walk("desc", None, first, stop=lambda last: last < since_ms, pages=since)
        else:  # the whole feed is on its first page
            walk = list(_unique(first.clips)) if first else []
            since(list(walk))
        found = {c.uuid: c for c in walk if c.created_at_ms >= since_ms}
        return sorted(found.values(), key=lambda c: (c.created_at_ms, c.uuid))

    def recent(self, before_ms: int | None = None) -> Iterator[Clip]:
        """Saved clips newest first (at or before `before_ms`, ms), each once, a page at a time."""
        first = None if self._order else self._get(None)
        order = self._order or self._learn_order(first)
        if order == "desc":
            start = first if before_ms is None else None
            found: Iterable[Clip] = self._walk("desc", before_ms, start)
        elif order == "asc":
            found = self._recent_from_ascending(first or self._get(None), before_ms)
        else:  # the whole feed is on its first page
            found = sorted(first.clips if first else [], key=lambda c: -c.created_at_ms)
        yield from _unique(c for c in found if before_ms is None or c.created_at_ms <= before_ms)

    def _get(self, at: int | None) -> Page:
        """One page; a clip at exactly `at` (or lastEvaluatedTimestampMs, the time of the last
        record on a non-empty page, equal to it) proves the bound inclusive (remembered)."""
        page = self._fetch(at)
        # An empty page's lastEvaluatedTimestampMs may just echo the position asked for.
        times = [c.created_at_ms for c in page.clips] + ([page.next_ms] if page.size else [])
        at_bound = at is not None and at in times
        if at_bound and not self._inclusive:
            self._inclusive = True
            log.info("rhombus feed: pageTimestampMs is an inclusive bound")
        return page

    def _learn_order(self, first: Page | None) -> Order | None:
        """The feed's page order, as its first page shows it (remembered once seen); None when
        that page is the whole feed (shorter than asked for)."""
        if self._order is not None or first is None or first.size < self._page_size:
            return self._order
        times = [c.created_at_ms for c in first.clips]
        if times and times[0] != times[-1]:
            newest_first = times[0] > times[-1]
        else:
            # A full page of one timestamp (or of odd records) shows no order: a position far
            # in the future has every clip behind it newest-first and none oldest-first.
            newest_first = self._get(FAR_FUTURE_MS).size > 0
        self._order = "desc" if newest_first else "asc"
        log.info("rhombus feed pages %s", "newest-first" if newest_first else "oldest-first")
        return self._order

    def _walk(
        self,
        order: Order,
        start_ms: int | None,
        first: Page | None = None,
        stop: Callable[[int], bool] = lambda last: False,
        pages: Callable[[list[Clip]], object] = lambda clips: None,
    ) -> Iterator[Clip]:
        """Clips from `start_ms` on (None: the feed's own start) in `order`, each once, until
        the feed ends or `stop(last timestamp read)`; `pages(clips)` hears of each page's new
        ones before they are given."""
        step = -1 if order == "desc" else 1
        need, seen, stale = start_ms, set[str](), 0
        page, at = first, None
        while True:
            if page is None:
                page, need, at = self._page_at(need, step)
            # Clips behind `need` were read already, or came late (the poller looks back for them).
            ahead = [c for c in page.clips if need is None or (c.created_at_ms - need) * step >= 0]
            ahead.sort(key=lambda c: c.created_at_ms * step)
            fresh = [c for c in ahead if c.uuid not in seen]
            pages(fresh)
            yield from fresh
            news = {c.uuid for c in ahead} | set(page.odd)
            stale = 0 if news - seen else stale + 1
            seen |= news
            last = _furthest(page, need, step)
            if page.size < self._page_size or (last is not None and stop(last)):
                return
            if not page.clips and last is None:
                # No position (the feed's start): the far end of time starts the same page.
                start = at if at is not None else FAR_FUTURE_MS if step < 0 else 1
                page, need = self._past_odd(start, step, set(page.odd), stop)
                at = need
                if page is not None:
                    continue
            if page is None or stale >= STALE_PAGES or (last is None and need is None):
                self._warn_once("cannot page on past %s; walk ended", need)
                return
            page, need = None, self._past(last, need, step)

    def _page_at(self, need: int | None, step: int) -> tuple[Page, int | None, int | None]:
        """The page starting at `need` whichever the bound (before the bound is proved, asked
        one millisecond early); where it starts (earlier, if it just proved inclusive); and the
        pageTimestampMs asked for."""
        if need is None:
            return self._get(None), None, None
        proved = self._inclusive
        at = max(need if proved else need - step, 0)
        page = self._get(at)
        return page, at if self._inclusive and not proved else need, at

    def _past_odd(
        self, at: int, step: int, run: set[str], stop: Callable[[int], bool]
    ) -> tuple[Page | None, int]:
        """Past a full page of odd records (`run`, asked for at `at`) that say nothing of their
        time: positions ever further on until a page holds none of them, then halving back to a
        page that starts inside the run and shows what follows it, so nothing is passed over.
        The page and its position: an empty one once past where the walk stops; None when even
        the far ends of time hold the run."""
        low, high, gap = at, None, 1  # pages at `low` hold only the run; at `high`, none of it
        while high is None or abs(high - low) > 1:
            if stop(low):  # the walk's stretch up to `low` holds nothing but the run
                return Page(clips=[], size=0, next_ms=None), low
            if high is None and gap > FAR_FUTURE_MS:
                return None, at
            x = low + gap * step if high is None else (low + high) // 2
            x = min(max(x, 1), FAR_FUTURE_MS)
            page = self._get(x)
            held = run & set(page.odd)
            if held and (page.clips or set(page.odd) - run or page.size < self._page_size):
                return page, x
            low, high, gap = (x, high, gap * 2) if held else (low, x, gap)
        # Every record of the run was saved in the millisecond of `low`: the page past it.
        return self._get(high), high

    def _past(self, last: int | None, need: int | None, step: int) -> int | None:
        """Where the next page must start: at the furthest timestamp read, or one millisecond
        past `need` when a full page did not get past it."""
        if last is not None and (need is None or (last - need) * step > 0):
            return last
        self._warn_once("a full page of records saved at %s; any more then are not visible", need)
        return None if need is None else need + step

    def _warn_once(self, message: str, at: int | None) -> None:
        """Logs a walk problem the first time it is met at `at`, not every poll cycle."""
        if (message, at) not in self._warned:
            if len(self._warned) > 1000:
                self._warned.clear()
            self._warned.add((message, at))
            log.warning("rhombus feed: " + message, at)

    def _recent_from_ascending(self, first: Page, before_ms: int | None) -> Iterator[Clip]:
        """Newest first from an oldest-first feed: windows [low, high) back from `before_ms`
        (or now), each walked oldest-first and given newest first, ever wider, to the oldest."""
        # Where the feed starts; past a first page of odd records if need be.
        oldest = min((c.created_at_ms for c in first.clips), default=first.next_ms)
        if oldest is None:
            oldest = next((c.created_at_ms for c in self._walk("asc", None, first)), None)
            if oldest is None:
                return  # odd records, and no clip
        high = None if before_ms is None else before_ms + 1
        span = WINDOW_MS
        low = (self._now_ms() if high is None else high) - span
        while True:
            low = max(low, oldest)
            batch = list(self._window(low, high))
            yield from sorted(batch, key=lambda c: -c.created_at_ms)
            if low <= oldest:
                return
            high, span = low, span * 4
            low = high - span

    def _window(self, low: int, high: int | None) -> Iterator[Clip]:
        """Clips saved in [low, high) (high None: no end) of an oldest-first feed."""
        window = self._walk("asc", low, stop=lambda last: high is not None and last >= high)
        return (c for c in window if high is None or c.created_at_ms < high)


def _furthest(page: Page, need: int | None, step: int) -> int | None:
    """How far along the walk (`step` -1: back in time, 1: forward) a page reached: its
    furthest clip; when that does not pass `need`, lastEvaluatedTimestampMs if that does (a
    page of odd records has no clip to tell by)."""
    times = [c.created_at_ms for c in page.clips]
    last = (max(times) if step > 0 else min(times)) if times else None
    if last is not None and (need is None or (last - need) * step > 0):
        return last
    if page.next_ms is not None and (need is None or (page.next_ms - need) * step > 0):
        return page.next_ms
    return last


def _unique(clips: Iterable[Clip]) -> Iterator[Clip]:
    seen: set[str] = set()
    for clip in clips:
        if clip.uuid not in seen:
            seen.add(clip.uuid)
            yield clip
