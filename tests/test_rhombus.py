"""The Rhombus client against the fake Rhombus server, over real HTTP."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from clipbot.config import Secret
from clipbot.records import Clip
from clipbot.rhombus import (
    RhombusAuth,
    RhombusAuthError,
    RhombusClient,
    RhombusError,
    RhombusUnavailable,
    poll_budget_note,
)
from tests.fakes.rhombus import API_KEY, FakeRhombus, clip
from tests.fakes.server import Reply
from tests.feed_model import PAGINGS, served
from tests.test_feed import odd_record, oldest_first, reachable, visible

T0 = 1_764_000_000_000


@pytest.fixture(params=PAGINGS, ids=str)
def feed(request: pytest.FixtureRequest) -> Iterator[FakeRhombus]:
    """The fake in each page order, bound reading and lastEvaluatedTimestampMs style."""
    server = FakeRhombus(paging=request.param).start()
    yield server
    server.stop()


_opened: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def make_client(
    fake: FakeRhombus,
    *,
    page_size: int = 100,
    sleeps: list[float] | None = None,
    key: str = API_KEY,
    scheme: str = "api-token",
    org: str | None = None,
    timeout: float = 5.0,
) -> RhombusClient:
    record = sleeps.append if sleeps is not None else (lambda s: None)
    _opened.append(httpx.Client(timeout=timeout))
    return RhombusClient(
        _opened[-1],
        RhombusAuth(Secret(key), scheme, org),
        fake.api_url,
        fake.media_url,
        page_size=page_size,
        sleep=record,
        now_ms=lambda: T0 + 10 * 3_600_000,
        jitter=lambda low, high: high,
    )


def tied_feed(fake: FakeRhombus) -> list[str]:
    """Ten clips, several sharing a createdAtMs, so ties straddle pages of three."""
    stamps = [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3, T0 + 3, T0 + 3, T0 + 4, T0 + 5, T0 + 5]
    fake.add(*(clip(f"C{i:02d}", ts) for i, ts in enumerate(stamps)))
    return [f"C{i:02d}" for i in range(10)]


class TestFeedPaging:
    def test_clips_since_in_both_orders_with_ties(self, feed: FakeRhombus) -> None:
        """Every clip at or after the position comes once, oldest first, ties split across pages."""
        uuids = tied_feed(feed)
        found = make_client(feed, page_size=3).clips_since(T0 + 1)
        assert [c.uuid for c in found] == uuids[1:]

    def test_clips_since_everything(self, feed: FakeRhombus) -> None:
        """From position 0 the whole feed comes back, each clip once."""
        uuids = tied_feed(feed)
        assert [c.uuid for c in make_client(feed, page_size=3).clips_since(0)] == uuids

    def test_recent_newest_first_in_both_orders(self, feed: FakeRhombus) -> None:
        """recent() streams newest first, each clip once, whatever the page order."""
        uuids = tied_feed(feed)
        got = [c.created_at_ms for c in make_client(feed, page_size=3).recent()]
        assert got == sorted(got, reverse=True)
        assert len(got) == len(uuids)

    def test_recent_before_in_both_orders(self, feed: FakeRhombus) -> None:
        """recent(before_ms) continues back from a position, newest first, whatever the order."""
        tied_feed(feed)
        clips = list(make_client(feed, page_size=3).recent(before_ms=T0 + 3))
        assert sorted(c.uuid for c in clips) == [f"C{i:02d}" for i in range(7)]
        assert [c.created_at_ms - T0 for c in clips] == [3, 3, 3, 2, 1, 1, 0]

    def test_recent_streams_only_what_is_taken(self) -> None:
        """Taking five clips from a long newest-first feed reads only the pages needed."""
        fake = FakeRhombus(order="desc").start()
        try:
            fake.add(*(clip(f"C{i:03d}", T0 + i) for i in range(300)))
            taken = list(itertools.islice(make_client(fake, page_size=10).recent(), 5))
            assert [c.uuid for c in taken] == ["C299", "C298", "C297", "C296", "C295"]
            assert len(fake.calls("getSavedClipsV2")) == 1
        finally:
            fake.stop()

    def test_idle_poll_is_one_request(self, feed: FakeRhombus) -> None:
        """Once the order is known, asking for nothing new costs one request."""
        tied_feed(feed)
        client = make_client(feed, page_size=3)
        client.clips_since(T0 + 5)
        before = len(feed.calls("getSavedClipsV2"))
        assert [c.uuid for c in client.clips_since(T0 + 5)] == ["C08", "C09"]
        assert len(feed.calls("getSavedClipsV2")) == before + 1

    def test_full_page_of_one_timestamp_does_not_loop(self, feed: FakeRhombus) -> None:
        """A page holding only one timestamp cannot stall the walk."""
        feed.add(*(clip(f"S{i}", T0) for i in range(5)), clip("LATE", T0 + 9))
        found = make_client(feed, page_size=2).clips_since(0)
        assert "LATE" in {c.uuid for c in found}
        assert len(feed.calls("getSavedClipsV2")) < 10

    @pytest.mark.parametrize("odd", [{"createdAtMs": None}, {"createdAtMs": "soon"}, {}])
    def test_a_record_without_created_at_anywhere(
        self, feed: FakeRhombus, odd: dict[str, Any]
    ) -> None:
        """A record with a null, unusable or missing createdAtMs, wherever it falls among new
        clips (first, inside or last on a page of three, or alone), loses no clip around it
        and is counted once (the old code read it as 1970: order flipped or the walk stopped)."""
        clips = [clip(f"C{i}", T0 + 10 * i) for i in range(7)]
        for slot in range(-1, 7):
            record = {**clip("ODD", 0), "_filedAtMs": T0 + 10 * slot + 5}
            del record["createdAtMs"]
            feed.clips = [*clips, {**record, **odd}]
            client = make_client(feed, page_size=3)
            assert [c.uuid for c in client.clips_since(T0)] == [f"C{i}" for i in range(7)]
            assert [c.uuid for c in client.recent()] == [f"C{i}" for i in range(6, -1, -1)]
            assert [c.uuid for c in client.recent(T0 + 35)] == ["C3", "C2", "C1", "C0"]
            assert client.skipped_records == 1

    def test_ties_at_every_page_boundary(self, feed: FakeRhombus) -> None:
        """Groups of three clips per millisecond read in pages of two: each group straddles a
        boundary, and every clip comes once whatever the bound (the old walk, asking for the
        boundary timestamp itself, lost the rest of each group under an exclusive bound)."""
        feed.add(*(clip(f"G{t}{i}", T0 + t) for t in range(4) for i in range(2)))
        feed.add(*(clip(f"G{t}2", T0 + t) for t in range(4)))
        uuids = sorted(f"G{t}{i}" for t in range(4) for i in range(3))
        client = make_client(feed, page_size=4)
        assert [c.uuid for c in client.clips_since(0)] == uuids
        assert sorted(c.uuid for c in client.recent()) == uuids

    def test_ties_odd_records_and_a_page_cap_over_http(self, feed: FakeRhombus) -> None:
        """A feed of ties (some larger than a page), odd records and a page of nothing but odd
        records, served with a page cap of four: the client reads what the model says a
        timestamp cursor can reach, each clip once, in order, whichever way the fake pages."""
        feed.paging = replace(feed.paging, cap=4)
        kinds = ["clip", "clip", "null", "clip", "missing", "clip", "no-uuid", "clip", "clip"]
        records = [odd_record(f"R{n:02d}", T0 + n // 5, kinds[n % 9]) for n in range(30)]
        records += [odd_record(f"Z{n}", T0 + 50 + n, "null") for n in range(5)]  # an odd page
        records += [clip("LAST", T0 + 99)]
        feed.add(*records)
        want = visible(records, feed.paging)
        client = make_client(feed, page_size=4)
        assert [c.uuid for c in client.clips_since(T0)] == oldest_first(want)
        assert sorted(c.uuid for c in client.recent()) == sorted(c.uuid for c in want)
        odd = [r for r in reachable(records, feed.paging) if Clip.from_api(served(r)) is None]
        assert client.skipped_records == len(odd)

    def test_empty_feed(self, feed: FakeRhombus) -> None:
        """An empty feed lists nothing."""
        assert list(make_client(feed).recent()) == []


class TestRecords:
    def test_odd_records_are_tolerated(self, rhombus: FakeRhombus) -> None:
        """Nulls, missing fields and records without a uuid neither crash nor invent data."""
        rhombus.add(
            {"uuid": "BARE", "createdAtMs": T0},
            {"uuid": None, "createdAtMs": T0 + 1},
            {
                "uuid": "NULLS",
                "title": None,
                "durationSec": None,
                "accessSettings": None,
                "deviceUuids": None,
                "status": None,
                "createdAtMs": T0 + 2,
            },
        )
        found = make_client(rhombus).clips_since(0)
        assert found == [
            Clip(uuid="BARE", created_at_ms=T0),
            Clip(uuid="NULLS", created_at_ms=T0 + 2),
        ]

    def test_odd_records_are_set_aside_once(
        self, rhombus: FakeRhombus, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Records without a usable createdAtMs or uuid are left out, warned about and counted
        once each, however many times the feed shows them."""
        rhombus.add(
            clip("A", T0),
            clip("NOTIME", 0, createdAtMs=None, _filedAtMs=T0 + 1),
            {"uuid": "NOFIELD", "title": "no createdAtMs", "_filedAtMs": T0 + 2},
            {"uuid": None, "createdAtMs": T0 + 3},
            {"title": "no uuid at all", "createdAtMs": T0 + 3},
            clip("TRUE", 0, createdAtMs=True, _filedAtMs=T0 + 4),
            clip("B", T0 + 5),
        )
        client = make_client(rhombus)
        with caplog.at_level(logging.WARNING, logger="clipbot"):
            first = client.clips_since(0)
            second = client.clips_since(0)
        assert [c.uuid for c in first] == [c.uuid for c in second] == ["A", "B"]
        assert client.skipped_records == 5
        warnings = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
        assert len(warnings) == 5
        assert any("NOTIME: no usable createdAtMs" in w for w in warnings)
        assert sum("no uuid" in w for w in warnings) == 2

    def test_times_past_year_9999_are_not_usable(self, rhombus: FakeRhombus) -> None:
        """A createdAtMs no date can show (microseconds sent as milliseconds) is set aside like
        a missing one, not followed (it made every poll cycle and /clips fail); such a
        timestampMs is no footage start."""
        rhombus.add(
            clip("A", T0),
            clip("MICRO", T0 * 1000),
            clip("B", T0 + 5, timestampMs=T0 * 1000),
        )
        client = make_client(rhombus)
        found = [(c.uuid, c.created_at_ms, c.timestamp_ms) for c in client.clips_since(0)]
        assert found == [("A", T0, T0 - 60_000), ("B", T0 + 5, None)]
        assert client.skipped_records == 1

    def test_clip_from_the_future_is_set_aside(self, rhombus: FakeRhombus) -> None:
        """A createdAtMs more than a day past this machine's clock (the client's clock reads
        T0 + 10h) is set aside like a missing one: followed, it carried the feed position ten
        years ahead, and every clip saved meanwhile was never posted."""
        ten_years = 10 * 365 * 86_400_000
        rhombus.add(clip("A", T0), clip("AHEAD", T0 + ten_years), clip("B", T0 + 5))
        rhombus.add(clip("SKEWED", T0 + 10 * 3_600_000 + 60_000))  # a minute ahead: kept
        client = make_client(rhombus)
        assert [c.uuid for c in client.clips_since(0)] == ["A", "B", "SKEWED"]
        assert client.skipped_records == 1

    def test_clip_details_without_created_at_is_no_clip(self, rhombus: FakeRhombus) -> None:
        """getSavedClipDetails with no createdAtMs gives no clip rather than one saved at 0."""
        rhombus.add(clip("NOTIME", 0, createdAtMs=None, _filedAtMs=T0))
        assert make_client(rhombus).clip("NOTIME") is None

    def test_full_record(self, rhombus: FakeRhombus) -> None:
        """A complete record becomes a complete Clip, with facet suffixes dropped."""
        rhombus.add(
            clip(
                "FULL",
                T0,
                title="Door forced",
                status="rendering",
                duration=42,
                cameras=("CAM0000000000000000001", "CAM0000000000000000002"),
                visibility="PRIVATE",
                isMonitoringClip=True,
                sourceAlertUuid="AL1",
                byteCount=12_345_678,
                clipLocationV2="https://media.example.test/v2/FULL.mp4",
            )
        )
        assert make_client(rhombus).clips_since(0) == [
            Clip(
                uuid="FULL",
                title="Door forced",
                created_at_ms=T0,
                timestamp_ms=T0 - 60_000,
                duration_sec=42,
                status="RENDERING",
                camera_ids=("CAM0000000000000000001", "CAM0000000000000000002"),
                user_uuid="USER000000000000000001",
                visibility="PRIVATE",
                source_alert_uuid="AL1",
                is_monitoring_clip=True,
                thumbnail_region="us-west-2",
                clip_region="us-west-2",
                clip_location_v2="https://media.example.test/v2/FULL.mp4",
                byte_count=12_345_678,
            )
        ]

    def test_camera_names(self, rhombus: FakeRhombus) -> None:
        """Camera IDs map to names; an unknown camera shows its ID; the list is cached."""
        client = make_client(rhombus)
        ids = ("CAM0000000000000000002", "UNKNOWNCAM", "CAM0000000000000000001")
        assert client.camera_names(ids) == ("Loading Dock", "UNKNOWNCAM", "Front Door")
        client.camera_names(("CAM0000000000000000001",))
        client.camera_names(("UNKNOWNCAM",))  # a miss right after a refresh waits its turn
        assert len(rhombus.calls("getMinimalCameraStateList")) == 1

    def test_user_name(self, rhombus: FakeRhombus) -> None:
        """A Rhombus user uuid maps to the person's name."""
        client = make_client(rhombus)
        assert client.user_name("USER000000000000000001") == "Dana Guard"
        assert client.user_name("NOBODY") is None

    def test_unknown_user_fetches_the_list_at_most_every_ten_minutes(
        self, rhombus: FakeRhombus
    ) -> None:
        """A clip saved by someone no longer in getUsersInOrg does not fetch the whole list
        again for every clip: misses are cached, and refreshed once ten minutes have passed."""
        clock = [1000.0]
        client = RhombusClient(
            httpx.Client(timeout=5),
            RhombusAuth(Secret(API_KEY)),
            rhombus.api_url,
            rhombus.media_url,
            monotonic=lambda: clock[0],
        )
        with client:
            assert [client.user_name("GONE") for _ in range(25)] == [None] * 25
            assert len(rhombus.calls("getUsersInOrg")) == 1
            rhombus.users.append({"uuid": "GONE", "name": "Back Again"})
            clock[0] += 601
            assert client.user_name("GONE") == "Back Again"
            assert client.user_name("USER000000000000000001") == "Dana Guard"
            assert len(rhombus.calls("getUsersInOrg")) == 2


class TestErrors:
    def test_401(self, rhombus: FakeRhombus) -> None:
        """A wrong key says so, naming the settings to check."""
        with pytest.raises(RhombusAuthError) as caught:
            make_client(rhombus, key="wrong-key").clips_since(0)
        assert str(caught.value) == (
            "Rhombus rejected the API key (HTTP 401): check RHOMBUS_API_KEY and RHOMBUS_AUTH_SCHEME"
        )

    def test_403(self, rhombus: FakeRhombus) -> None:
        """A role without permission is told apart from a wrong key."""
        rhombus.forbidden_keys.add(API_KEY)
        with pytest.raises(RhombusAuthError) as caught:
            make_client(rhombus).clips_since(0)
        assert str(caught.value) == (
            "Rhombus refused event/getSavedClipsV2 (HTTP 403): the API key is wrong "
            "or its role lacks permission for it"
        )

    def test_business_error(self, rhombus: FakeRhombus) -> None:
        """HTTP 200 with error: true raises with the errorMsg."""
        rhombus.fail("getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Org suspended"}))
        with pytest.raises(RhombusError) as caught:
            make_client(rhombus).clips_since(0)
        assert str(caught.value) == "Rhombus event/getSavedClipsV2 failed: Org suspended"

    def test_malformed_body(self, rhombus: FakeRhombus) -> None:
        """A body that is not JSON is an error, not a crash."""
        rhombus.fail("getSavedClipsV2", Reply(200, b"<html>oops", {"Content-Type": "text/html"}))
        with pytest.raises(RhombusError) as caught:
            make_client(rhombus).clips_since(0)
        assert str(caught.value) == (
            "Rhombus event/getSavedClipsV2 answered with something that is not a JSON object"
        )

    def test_400_carries_msg(self, rhombus: FakeRhombus) -> None:
        """A 400's msg is passed on."""
        rhombus.fail(
            "getSavedClipsV2",
            Reply.json({"msg": "JSON doesn't match expected object structure"}, 400),
        )
        with pytest.raises(RhombusError) as caught:
            make_client(rhombus).clips_since(0)
        assert str(caught.value) == (
            "Rhombus event/getSavedClipsV2 failed: HTTP 400: "
            "JSON doesn't match expected object structure"
        )

    @pytest.mark.parametrize(
        "answer",
        [
            Reply.json({"msg": f"bad header x-auth-apikey: {API_KEY}"}, 400),
            Reply.json({"error": True, "errorMsg": f"bad header x-auth-apikey: {API_KEY}"}),
        ],
        ids=["400-msg", "200-errorMsg"],
    )
    def test_key_quoted_back_is_masked(self, rhombus: FakeRhombus, answer: Reply) -> None:
        """An answer that quotes the API key it was sent never carries the key into the error,
        which reaches Slack replies, the CLI and the health record."""
        rhombus.fail("getSavedClipsV2", answer)
        with pytest.raises(RhombusError) as caught:
            make_client(rhombus).clips_since(0)
        http = "HTTP 400: " if answer.status == 400 else ""
        assert str(caught.value) == (
            f"Rhombus event/getSavedClipsV2 failed: {http}bad header x-auth-apikey: ***"
        )

    def test_5xx_retried_with_backoff(self, rhombus: FakeRhombus) -> None:
        """Two 500s are retried with doubling back-off, then the answer comes through."""
        rhombus.add(clip("A", T0))
        rhombus.fail("getSavedClipsV2", Reply(500), Reply(503))
        sleeps: list[float] = []
        assert [c.uuid for c in make_client(rhombus, sleeps=sleeps).clips_since(0)] == ["A"]
        assert sleeps == [1.0, 2.0]

    def test_a_share_link_is_not_asked_for_twice(self, rhombus: FakeRhombus) -> None:
        """A 5xx to createSharedClipGroupV3 may have made a link: it is not sent again blindly
        (each would be another login-free link to the footage), and the error says why."""
        rhombus.fail("createSharedClipGroupV3", Reply(500))
        with pytest.raises(RhombusUnavailable) as caught:
            make_client(rhombus).share(
                Clip(uuid="A", created_at_ms=T0), title="A", description="", expires_secs=60
            )
        assert str(caught.value) == (
            "Rhombus event/createSharedClipGroupV3 failed (HTTP 500) and was not sent again:"
            " it may have been done, so try again only if nothing came of it"
        )
        assert len(rhombus.calls("createSharedClipGroupV3")) == 1

    def test_5xx_gives_up(self, rhombus: FakeRhombus) -> None:
        """A server that keeps failing ends in a clear error after the last attempt."""
        rhombus.fail("getSavedClipsV2", *[Reply(502)] * 4)
        sleeps: list[float] = []
        with pytest.raises(RhombusUnavailable) as caught:
            make_client(rhombus, sleeps=sleeps).clips_since(0)
        assert (
            str(caught.value) == "Rhombus event/getSavedClipsV2 failed after 4 attempts: HTTP 502"
        )
        assert sleeps == [1.0, 2.0, 4.0]

    def test_timeout(self, rhombus: FakeRhombus) -> None:
        """A slow server times out, is retried, and ends in a clear error."""
        rhombus.fail("getSavedClipsV2", *[Reply(200, b"{}", delay=1.0)] * 4)
        with pytest.raises(RhombusUnavailable) as caught:
            make_client(rhombus, timeout=0.2).clips_since(0)
        assert (
            str(caught.value) == "Rhombus event/getSavedClipsV2 failed after 4 attempts: timed out"
        )

    def test_connection_refused(self) -> None:
        """Nothing listening is a connection error, retried then reported."""
        fake = FakeRhombus().start()
        fake.stop()
        with pytest.raises(RhombusUnavailable) as caught:
            make_client(fake).clips_since(0)
        assert str(caught.value) == (
            "Rhombus event/getSavedClipsV2 failed after 4 attempts: connection failed (ConnectError)"
        )

    def test_429_waits_retry_after(self, rhombus: FakeRhombus) -> None:
        """After a 429 the next call comes no sooner than Retry-After seconds later."""
        rhombus.add(clip("A", T0))
        rhombus.fail(
            "getSavedClipsV2",
            Reply(429, b"Too many api requests. Enhance your calm.", {"Retry-After": "1"}),
        )
        _opened.append(httpx.Client(timeout=5))
        client = RhombusClient(
            _opened[-1],
            RhombusAuth(Secret(API_KEY)),
            rhombus.api_url,
            rhombus.media_url,
        )
        assert [c.uuid for c in client.clips_since(0)] == ["A"]
        first, second = rhombus.calls("getSavedClipsV2")[:2]
        assert second.at - first.at >= 1.0

    def test_warning_logged(self, rhombus: FakeRhombus, caplog: pytest.LogCaptureFixture) -> None:
        """warningMsg on a successful answer is logged."""
        rhombus.fail("getSavedClipsV2", Reply.json({"savedClips": [], "warningMsg": "deprecated"}))
        make_client(rhombus).clips_since(0)
        assert "rhombus event/getSavedClipsV2 warning: deprecated" in caplog.messages


class TestAuth:
    def test_headers(self, rhombus: FakeRhombus) -> None:
        """An API token sends the key and scheme, and no org."""
        make_client(rhombus).clips_since(0)
        headers = rhombus.requests[0].headers
        assert (headers["x-auth-apikey"], headers["x-auth-scheme"]) == (API_KEY, "api-token")
        assert "x-auth-org" not in headers

    def test_partner_sends_org(self, rhombus: FakeRhombus) -> None:
        """A partner token acting for a client org sends x-auth-org."""
        make_client(rhombus, scheme="partner-api-token", org="ORG42").clips_since(0)
        headers = rhombus.requests[0].headers
        assert (headers["x-auth-scheme"], headers["x-auth-org"]) == ("partner-api-token", "ORG42")

    def test_key_never_leaks(self, rhombus: FakeRhombus, caplog: pytest.LogCaptureFixture) -> None:
        """The key is in no log line (DEBUG included), exception or repr."""
        caplog.set_level(logging.DEBUG)
        client = make_client(rhombus, sleeps=[])
        rhombus.fail("getSavedClipsV2", Reply(500), Reply.json({"error": True, "errorMsg": "x"}))
        with pytest.raises(RhombusError) as caught:
            client.clips_since(0)
        rhombus.forbidden_keys.add(API_KEY)
        with pytest.raises(RhombusAuthError) as denied:
            client.clips_since(0)
        seen = (
            caplog.text + str(caught.value) + repr(caught.value) + str(denied.value) + repr(client)
        )
        assert API_KEY not in seen
        assert API_KEY not in repr(RhombusAuth(Secret(API_KEY)))


class TestMedia:
    def test_thumbnail(self, rhombus: FakeRhombus) -> None:
        """The region-form thumbnail URL is fetched with the auth headers."""
        rhombus.thumbnails["A"] = b"jpeg-bytes"
        client = make_client(rhombus)
        assert client.thumbnail(Clip("A", thumbnail_region="us-west-2")) == b"jpeg-bytes"
        assert rhombus.requests[-1].path == "/media/metadata/us-west-2/A.jpeg"
        assert rhombus.requests[-1].headers["x-auth-apikey"] == API_KEY

    def test_missing_thumbnail_is_none(self, rhombus: FakeRhombus) -> None:
        """No thumbnail on the server, or no location at all, is None, not an error."""
        client = make_client(rhombus)
        assert client.thumbnail(Clip("GONE", thumbnail_region="us-west-2")) is None
        assert client.thumbnail(Clip("NOWHERE")) is None


class TestPollBudget:
    def test_fast_polls_say_their_share_of_the_rate_budget(self) -> None:
        """Below 5 s the note says how much of the organisation's budget polling takes."""
        assert poll_budget_note(5) is None
        assert poll_budget_note(2) == (
            "CLIPBOT_POLL_SECONDS=2: idle polling alone makes one Rhombus request every 2s, about"
            " 50% of the organisation's rate budget (about 1 request/s, shared by all its API"
            " keys); cycles with new clips make more, and other tools using the same organisation"
            " may be throttled"
        )
