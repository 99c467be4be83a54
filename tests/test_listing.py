"""/clips listings and their More button, over every reading of getSavedClipsV2 paging.

The Rhombus client runs for real over an httpx.MockTransport that answers from
`tests.feed_model`, so the listing is exercised through the same parsing as in production.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clipbot.config import Secret
from clipbot.listing import Cursor, Found, search
from clipbot.query import ListQuery
from clipbot.rhombus import RhombusAuth, RhombusClient
from tests.fakes.rhombus import clip
from tests.feed_model import PAGINGS, Paging, saved_clips_page
from tests.test_feed import PROPERTY, T0, check, feeds, visible

NOW = T0 + 14 * 3_600_000


def client_over(records: list[dict[str, Any]], paging: Paging) -> RhombusClient:
    """A real RhombusClient whose HTTP answers come from the feed model."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/getSavedClipsV2"):
            return httpx.Response(200, json=saved_clips_page(records, body, paging))
        return httpx.Response(200, json={"cameraStates": [], "users": []})

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return RhombusClient(
        http,
        RhombusAuth(Secret("key")),
        "https://api.test/api",
        "https://media.test",
        page_size=paging.cap,
        sleep=lambda s: None,
        now_ms=lambda: NOW,
    )


def page_through(client: RhombusClient, query: ListQuery, max_scan: int) -> list[Found]:
    """Every screenful, pressing More until there is none (bounded, so a loop fails)."""
    screens = [search(client, query, NOW, max_scan=max_scan)]
    while screens[-1].more is not None and len(screens) < 500:
        decoded = Cursor.from_value(screens[-1].more.to_value("/clips"))  # as the button carries it
        assert decoded is not None
        screens.append(search(client, query, NOW, decoded[1], max_scan=max_scan))
    return screens


@pytest.mark.parametrize("paging", PAGINGS, ids=str)
class TestMorePaging:
    @PROPERTY
    @given(
        records=feeds(max_size=30),
        cap=st.integers(1, 12),
        limit=st.integers(1, 6),
        scan=st.integers(1, 9),
    )
    def test_more_shows_every_clip_once(
        self, paging: Paging, records: list[Any], cap: int, limit: int, scan: int
    ) -> None:
        """Pressing More until it goes away lists every reachable clip once, newest first,
        whatever the bound, order or ties at a screen's edge; private clips only counted."""
        paging = Paging(paging.order, paging.bound, paging.last_evaluated, cap)
        with client_over(records, paging) as client:
            screens = page_through(client, ListQuery(limit=limit), max_scan=scan)
        shown = [c for s in screens for c in s.clips]
        check(shown, records, [c for c in visible(records, paging) if not c.is_private])
        times = [c.created_at_ms for c in shown]
        assert times == sorted(times, reverse=True)
        hidden = sum(1 for c in visible(records, paging) if c.is_private)
        assert sum(s.hidden for s in screens) == hidden


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_more_across_a_tie_under_an_exclusive_bound(order: str) -> None:
    """Three clips saved in the same millisecond, straddling both a page of three and a screen
    of two, under an exclusive pageTimestampMs: More still shows the third (the old code, which
    asked for the tied timestamp itself, lost it)."""
    records = [clip("OLD", T0 - 5), *(clip(f"T{i}", T0) for i in range(3))]
    records += [clip("NEW1", T0 + 1), clip("NEW2", T0 + 2)]
    paging = Paging(order, "exclusive", "last", 3)  # type: ignore[arg-type]
    with client_over(records, paging) as client:
        screens = page_through(client, ListQuery(limit=2), max_scan=100)
    assert [[c.uuid for c in s.clips] for s in screens] == [
        ["NEW2", "NEW1"],
        ["T0", "T1"],
        ["T2", "OLD"],
    ]
    assert [s.more for s in screens] == [Cursor(T0 + 1, ("NEW1",)), Cursor(T0, ("T0", "T1")), None]
