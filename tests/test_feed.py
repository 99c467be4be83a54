"""The feed walk against a model of getSavedClipsV2, under every reading of its paging.

Each test runs for every page order x bound (inclusive/exclusive) x lastEvaluatedTimestampMs
style; hypothesis draws the feed (ties across page boundaries, groups larger than a page, odd
records, late arrivals) and the page cap (1 to 100). The Feed is driven with an injected fetch
over `tests.feed_model`, so an example costs microseconds, not sockets.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipbot.feed import WINDOW_MS, Feed, Page
from clipbot.records import Clip, OddRecords
from tests.fakes.rhombus import clip
from tests.feed_model import (
    PAGINGS,
    Paging,
    feed_order,
    filed_at,
    saved_clips_page,
    served,
)

T0 = 1_764_000_000_000
LOOKBACK_MS = 120_000  # the poller's look-back behind its position
# per test and paging reading (12 readings x 3 tests); FEED_EXAMPLES=5000 for a deeper search
EXAMPLES = int(os.environ.get("FEED_EXAMPLES", "100"))

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Model:
    """A getSavedClipsV2 server over `records`, counting the requests it answers."""

    def __init__(self, records: list[dict[str, Any]], paging: Paging) -> None:
        self.paging = paging
        self.records = records
        self.requests = 0
        self.odd = OddRecords()

    @property
    def records(self) -> list[dict[str, Any]]:
        return self._records

    @records.setter
    def records(self, records: list[dict[str, Any]]) -> None:
        self._records = records
        self._ordered = feed_order(records, self.paging)

    def fetch(self, at: int | None) -> Page:
        assert at is None or 0 <= at < 2**53, f"pageTimestampMs {at} is not a time"
        self.requests += 1
        body: dict[str, Any] = {"maxPageSize": self.paging.cap}
        if at is not None:
            body["pageTimestampMs"] = at
        answer = saved_clips_page(self._ordered, body, self.paging, ordered=True)
        return Page.from_api(answer, self.odd)

    def feed(self, now_ms: int) -> Feed:
        return Feed(self.fetch, self.paging.cap, lambda: now_ms)


# -- what a correct walk must return ---------------------------------------------------------


def visible(records: Sequence[dict[str, Any]], paging: Paging) -> list[Clip]:
    """Every usable clip a timestamp cursor can reach: of the records saved in one millisecond,
    only the first `cap` (in the server's order) are on any page, under either bound."""
    clips = (Clip.from_api(served(r)) for r in reachable(records, paging))
    return [c for c in clips if c is not None]


def reachable(records: Sequence[dict[str, Any]], paging: Paging) -> list[dict[str, Any]]:
    """The records on some page: the first `cap` of each millisecond, in the server's order."""
    by_time = itertools.groupby(feed_order(records, paging), key=filed_at)
    return [r for _, group in by_time for r in list(group)[: paging.cap]]


def oldest_first(clips: Sequence[Clip]) -> list[str]:
    return [c.uuid for c in sorted(clips, key=lambda c: (c.created_at_ms, c.uuid))]


def check(got: list[Clip], records: list[dict[str, Any]], want: list[Clip]) -> None:
    """`got` holds exactly `want`'s clips, each once."""
    uuids = [c.uuid for c in got]
    feed = [(r.get("uuid"), r.get("createdAtMs"), filed_at(r) - T0) for r in records]
    assert len(uuids) == len(set(uuids)), f"a clip came twice: {feed}"
    assert sorted(uuids) == sorted(c.uuid for c in want), f"feed: {feed}"


def request_bound(records: list[dict[str, Any]], windows: int = 1) -> int:
    """Requests a walk may make: a page with nothing new happens at most twice in a row (a tie
    re-read, then the bound learnt), so three per record read, plus the order probes; and
    passing a page of odd records that nothing places in time costs a doubling then halving
    search, at most two requests per bit of a millisecond time (42 bits)."""
    odd = sum(1 for r in records if Clip.from_api(served(r)) is None)
    return 3 * (len(records) + windows) + 2 + 2 * 42 * odd


# -- feeds ------------------------------------------------------------------------------------

ODD_KINDS = ("null", "missing", "text", "bool", "no-uuid", "null-uuid")


@st.composite
def feeds(draw: st.DrawFn, max_size: int = 40, base: int = T0) -> list[dict[str, Any]]:
    """Clips on few distinct timestamps (so ties are common and cross page boundaries), some
    of them odd records, spread within a millisecond, seconds or hours of each other."""
    spread = draw(st.sampled_from([1, 1_000, 600_000, WINDOW_MS]))
    odd_one_in = draw(st.sampled_from([0, 10, 3]))  # 0: no odd records in this feed
    slots = draw(st.lists(st.integers(0, 12), max_size=max_size))
    records = []
    for n, slot in enumerate(slots):
        at = base + slot * spread
        uuid = f"U{base - T0 + n:05d}"
        odd = odd_one_in and draw(st.integers(0, odd_one_in - 1)) == 0
        kind = draw(st.sampled_from(ODD_KINDS)) if odd else "clip"
        records.append(odd_record(uuid, at, kind))
    return records


def odd_record(uuid: str, at: int, kind: str) -> dict[str, Any]:
    """A clip record, or one that cannot be placed in time or identified (`kind`)."""
    if kind == "clip":
        return clip(uuid, at)
    if kind in ("no-uuid", "null-uuid"):
        record = clip(uuid, at)
        if kind == "no-uuid":
            del record["uuid"]
        else:
            record["uuid"] = None
        return record
    created = {"null": None, "text": str(at), "bool": True}.get(kind)
    record = clip(uuid, at, _filedAtMs=at)
    if kind == "missing":
        del record["createdAtMs"]
    else:
        record["createdAtMs"] = created
    return record


caps = st.one_of(st.integers(1, 4), st.integers(1, 100))
positions = st.integers(T0 - 10, T0 + 13 * WINDOW_MS)


# -- the properties ----------------------------------------------------------------------------


@pytest.mark.parametrize("paging", PAGINGS, ids=str)
class TestFeedModel:
    @PROPERTY
    @given(records=feeds(), cap=caps, since=positions)
    def test_clips_since(self, paging: Paging, records: list[Any], cap: int, since: int) -> None:
        """clips_since gives every reachable clip saved at or after the position, oldest first,
        each once, in a bounded number of requests; `read` hears of each of them once."""
        model = Model(records, Paging(paging.order, paging.bound, paging.last_evaluated, cap))
        heard: list[Clip] = []
        got = model.feed(T0).clips_since(since, heard.extend)
        want = [c for c in visible(records, model.paging) if c.created_at_ms >= since]
        check(got, records, want)
        assert [c.uuid for c in got] == oldest_first(got)
        assert model.requests <= request_bound(records)
        assert sorted(c.uuid for c in heard) == sorted(c.uuid for c in got)

    @PROPERTY
    @given(records=feeds(), cap=caps, before=st.none() | positions)
    def test_recent(self, paging: Paging, records: list[Any], cap: int, before: int | None) -> None:
        """recent gives every reachable clip at or before `before`, newest first, each once."""
        model = Model(records, Paging(paging.order, paging.bound, paging.last_evaluated, cap))
        now = T0 + 13 * WINDOW_MS
        got = list(model.feed(now).recent(before))
        want = [
            c for c in visible(records, model.paging) if before is None or c.created_at_ms <= before
        ]
        check(got, records, want)
        times = [c.created_at_ms for c in got]
        assert times == sorted(times, reverse=True)
        # Oldest-first feeds are listed in windows of 1, 4, 16, 64 hours back from now, which
        # cover the 13 hours drawn.
        assert model.requests <= request_bound(records, 4)

    @PROPERTY
    @given(records=feeds(max_size=25), cap=caps, data=st.data())
    def test_late_arrivals_within_lookback(
        self, paging: Paging, records: list[Any], cap: int, data: st.DataObject
    ) -> None:
        """Clips that appear after a walk passed their createdAtMs are read by the next walk
        from the position minus the look-back; the same Feed keeps what it learnt."""
        model = Model(records, Paging(paging.order, paging.bound, paging.last_evaluated, cap))
        feed = model.feed(T0)
        first = feed.clips_since(T0)
        position = max((c.created_at_ms for c in first), default=T0)
        late_by = st.one_of(st.integers(0, 2), st.integers(0, LOOKBACK_MS))
        kinds = st.sampled_from(("clip",) * 10 + ODD_KINDS)
        late = data.draw(st.lists(st.tuples(late_by, kinds), max_size=10), label="late")
        model.records = records + [
            odd_record(f"L{n:03d}", position - by, kind) for n, (by, kind) in enumerate(late)
        ]
        since = position - LOOKBACK_MS
        got = feed.clips_since(since)
        want = [c for c in visible(model.records, model.paging) if c.created_at_ms >= since]
        check(got, model.records, want)
        assert [c.uuid for c in got] == oldest_first(got)


@pytest.mark.parametrize("paging", PAGINGS, ids=str)
def test_clips_since_tells_of_each_page_as_it_is_read(paging: Paging) -> None:
    """`read` hears of the clips a page at a time while the walk goes on (newest first in a
    newest-first feed), not all at once after it: 12 clips in pages of 3."""
    records = [clip(f"P{i:02d}", T0 + i) for i in range(12)]
    model = Model(records, Paging(paging.order, paging.bound, paging.last_evaluated, 3))
    heard: list[tuple[int, list[str]]] = []  # (requests made by then, the clips heard)

    def read(clips: list[Clip]) -> None:
        if clips:
            heard.append((model.requests, [c.uuid for c in clips]))

    got = model.feed(T0).clips_since(T0, read)
    assert [c.uuid for c in got] == [f"P{i:02d}" for i in range(12)]
    step = -1 if paging.order == "desc" else 1
    assert [u for _, uuids in heard for u in uuids] == [f"P{i:02d}" for i in range(12)][::step]
    assert len(heard) >= 4  # a page at a time (pages overlap while the bound is learnt)
    assert heard[0][0] < model.requests - 2  # the first page's, with pages still to come


class TestWalkLimits:
    """What happens where a timestamp cursor cannot see everything: said once, not per cycle."""

    @pytest.mark.parametrize("paging", PAGINGS, ids=str)
    def test_a_tie_group_larger_than_a_page(
        self, paging: Paging, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Five clips in one millisecond with pages of three: the first three (in the server's
        order) are read, the clips on either side all are, and the warning comes once."""
        records = [clip("OLD", T0 - 1), *(clip(f"T{i}", T0) for i in range(5)), clip("NEW", T0 + 1)]
        model = Model(records, Paging(paging.order, paging.bound, paging.last_evaluated, 3))
        feed = model.feed(T0)
        with caplog.at_level(logging.WARNING, logger="clipbot.feed"):
            for _ in range(3):
                got = [c.uuid for c in feed.clips_since(T0 - 1)]
                assert got == ["OLD", "T0", "T1", "T2", "NEW"]
        assert [r.getMessage() for r in caplog.records] == [
            f"rhombus feed: a full page of records saved at {T0}; any more then are not visible"
        ]

    @pytest.mark.parametrize("paging", PAGINGS, ids=str)
    @pytest.mark.parametrize("where", ["between", "newest"])
    def test_a_page_of_odd_records_with_nothing_to_place_them(
        self, paging: Paging, where: str
    ) -> None:
        """A full page of odd records, between clips or as the newest records: passed using
        lastEvaluatedTimestampMs, or without one by a doubling-then-halving search that
        passes no clip; a few dozen requests, not one per millisecond."""
        odd = [odd_record(f"X{i}", T0 + 100 * i, "null") for i in range(1, 4)]
        clips = [clip("A", T0), clip("B", T0 + 1000)] if where == "between" else [clip("A", T0)]
        model = Model(clips + odd, Paging(paging.order, paging.bound, paging.last_evaluated, 3))
        feed = model.feed(T0 + 2000)
        assert [c.uuid for c in feed.clips_since(T0)] == [c["uuid"] for c in clips]
        assert [c.uuid for c in feed.recent()] == [c["uuid"] for c in reversed(clips)]
        assert model.odd.count == 3
        assert model.requests <= 200

    @pytest.mark.parametrize("order", ["desc", "asc"])
    def test_an_echoed_position_proves_nothing(self, order: str) -> None:
        """An exclusive server that answers an empty page with lastEvaluatedTimestampMs equal to
        the position asked for is not taken for an inclusive one: ties are still read."""
        records = [clip(f"T{i}", T0) for i in range(3)] + [clip("NEW", T0 + 5)]
        model = Model(records, Paging(order, "exclusive", "absent", 2))  # type: ignore[arg-type]

        def echoing(at: int | None) -> Page:
            page = model.fetch(at)
            return replace(page, next_ms=at) if not page.size else page

        feed = Feed(echoing, 2, lambda: T0)
        assert list(feed.recent(T0 - 10)) == []  # nothing there: an empty page, echoed
        assert [c.uuid for c in feed.clips_since(T0)] == ["T0", "T1", "NEW"]
