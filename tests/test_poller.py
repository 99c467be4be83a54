"""Channel notifications: every new clip to every subscribed channel, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clipbot.poller import wants
from clipbot.records import Clip
from clipbot.state import Subscription
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", page_size=3)
    yield w
    w.close()


def kinds(message: Message) -> list[str]:
    """The block types of a message, top to bottom."""
    return [b["type"] for b in message.blocks or []]


class Crash(Exception):
    """Stands for the process dying at this point."""


class TestExactlyOnce:
    def test_each_clip_once_across_cycles(self, world: World) -> None:
        """Clips arriving over several cycles each reach the channel once, oldest first."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 10), clip("B", T0 + 5))
        world.poller.poll_once()
        world.rhombus.add(clip("C", T0 + 20), clip("D", T0 + 20))
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["B", "A", "C", "D"]
        assert [m.text for m in world.slack.posts("C1")] == [
            "New clip: Clip B",
            "New clip: Clip A",
            "New clip: Clip C",
            "New clip: Clip D",
        ]

    def test_idle_cycle_is_one_request_and_no_slack_call(self, world: World) -> None:
        """With nothing new, a cycle makes one Rhombus request and no Slack call."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 10), clip("GONE", T0 + 11, cameras=("DELETEDCAM",)))
        world.poller.poll_once()
        rhombus_before, slack_before = len(world.rhombus.requests), len(world.slack.calls)
        world.poller.poll_once()
        assert [r.path for r in world.rhombus.requests[rhombus_before:]] == [
            "/api/event/getSavedClipsV2"
        ]
        assert world.slack.calls[slack_before:] == []

    @pytest.mark.parametrize("order", ["desc", "asc"])
    def test_page_orders_and_ties(self, world: World, order: str) -> None:
        """Both page orders, with ties across pages of three, post every clip once in order."""
        world.rhombus.order = order
        world.subscribe("C1")
        stamps = [T0 + 1, T0 + 2, T0 + 2, T0 + 3, T0 + 3, T0 + 3, T0 + 4, T0 + 5, T0 + 5]
        world.rhombus.add(*(clip(f"K{i}", ts) for i, ts in enumerate(stamps)))
        world.poller.poll_once()
        world.rhombus.add(clip("L1", T0 + 5), clip("L2", T0 + 6))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == [f"K{i}" for i in range(9)] + ["L1", "L2"]

    def test_restart_keeps_position(self, world: World) -> None:
        """A restarted bot neither reposts nor skips."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.poller.poll_once()
        world.restart()
        world.rhombus.add(clip("B", T0 + 2))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B"]

    def test_late_arrival_within_lookback(self, world: World) -> None:
        """A clip that shows up after newer ones were posted, with an older createdAtMs, still comes."""
        world.subscribe("C1")
        world.rhombus.add(clip("NEW", T0 + 60_000))
        world.poller.poll_once()
        world.rhombus.add(clip("LATE", T0 + 30_000))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["NEW", "LATE"]

    def test_local_clock_does_not_matter(self, world: World) -> None:
        """A local clock years off the feed's loses nothing: position is the feed's own time."""
        world.now[0] = 0
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        world.poller.poll_once()
        world.now[0] = T0 * 3
        world.rhombus.add(clip("C", T0 + 3))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B", "C"]


def crash_on(target: Any, name: str, call: int, after: bool = False) -> None:
    """Makes the `call`-th call of target.name die, before (or after) doing its work."""
    real: Callable[..., Any] = getattr(target, name)
    count = [0]
    lock = threading.Lock()

    def dying(*args: Any, **kwargs: Any) -> Any:
        with lock:
            count[0] += 1
            this = count[0]
        if this == call and not after:
            raise Crash(name)
        result = real(*args, **kwargs)
        if this == call:
            raise Crash(name)
        return result

    setattr(target, name, dying)


STEPS = [
    ("store", "reserve_each", 1, False),  # every channel's first message
    ("store", "reserve_each", 1, True),
    ("store", "reserve_each", 2, False),  # a channel's next cards, reserved ahead
    ("store", "reserve_each", 2, True),
    ("store", "reserve_each", 3, False),
    ("poster", "post", 2, False),
    ("poster", "post", 1, True),
    ("poster", "post", 3, True),
    ("store", "confirm", 2, False),
    ("store", "confirm", 2, True),
    ("store", "advance", 1, False),
    ("store", "record_success", 1, False),
    ("client", "camera_names", 2, False),
]


class TestCrashes:
    @pytest.mark.parametrize(("part", "method", "call", "after"), STEPS)
    def test_crash_at_any_step(
        self, world: World, part: str, method: str, call: int, after: bool
    ) -> None:
        """Dying at any step of a cycle, then starting again, loses and duplicates nothing."""
        world.subscribe("C1")
        world.subscribe("C2")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2), clip("C", T0 + 3))
        crash_on(getattr(world, part), method, call, after)
        with pytest.raises(Crash):
            world.poller.poll_once()
        world.restart()
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B", "C"]
        assert world.posted_uuids("C2") == ["A", "B", "C"]
        assert [c.ts is not None for c in world.store.cards()] == [True] * 6

    def test_stopping_abandons_between_posts(self, world: World) -> None:
        """A shutdown mid-cycle leaves unposted clips for the next start, losing none."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        real_post = world.poster.post

        def post_then_stop(*args: Any, **kwargs: Any) -> str:
            world.poller.stopping.set()
            return real_post(*args, **kwargs)

        world.poster.post = post_then_stop  # type: ignore[method-assign]
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        world.restart()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B"]

    def test_in_doubt_card_holds_the_position(self, world: World) -> None:
        """A card whose fate Slack cannot be asked about yet is neither lost nor posted twice."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        crash_on(world.poster, "post", 1, after=True)
        with pytest.raises(Crash):
            world.poller.poll_once()
        world.restart()
        real_find = world.poster.find_posted
        world.poster.find_posted = lambda *a: (_ for _ in ()).throw(OSError("unreachable"))  # type: ignore[method-assign]
        world.rhombus.add(clip("B", T0 + 600_000))  # far beyond the look-back
        world.poller.poll_once()
        world.rhombus.add(clip("C", T0 + 1_200_000))
        world.poller.poll_once()
        held = world.store.subscription("C1")
        assert held is not None and held.position_ms == T0  # just before A, which is in doubt
        world.poster.find_posted = real_find  # type: ignore[method-assign]
        world.poller.poll_once()
        world.poller.poll_once()
        assert sorted(world.posted_uuids("C1")) == ["A", "B", "C"]
        moved = world.store.subscription("C1")
        assert moved is not None and moved.position_ms == T0 + 1_200_000


class TestFilters:
    def test_subscription_filters(self, world: World) -> None:
        """Camera, minimum duration, private and monitoring filters each select what they say."""
        world.subscribe("CALL")
        world.subscribe("CDOCK", camera="dock")
        world.subscribe("CLONG", min_duration_sec=60)
        world.subscribe("CPRIV", include_private=True)
        world.subscribe("CMON", include_monitoring=True)
        world.rhombus.add(
            clip("FRONT", T0 + 1, duration=30),
            clip("DOCK", T0 + 2, cameras=("CAM0000000000000000002",), duration=90),
            clip("SECRET", T0 + 3, visibility="PRIVATE"),
            clip("ROLE", T0 + 4, visibility="ROLE_RESTRICTED"),
            clip("ALARM", T0 + 5, isMonitoringClip=True),
        )
        world.poller.poll_once()
        assert {
            ch: world.posted_uuids(ch) for ch in ("CALL", "CDOCK", "CLONG", "CPRIV", "CMON")
        } == {
            "CALL": ["FRONT", "DOCK"],
            "CDOCK": ["DOCK"],
            "CLONG": ["DOCK"],
            "CPRIV": ["FRONT", "DOCK", "SECRET", "ROLE"],
            "CMON": ["FRONT", "DOCK", "ALARM"],
        }

    def test_clips_before_subscription_are_not_posted(self, world: World) -> None:
        """The subscription starts at the feed's newest clip; same-millisecond clips after it count."""
        world.rhombus.add(clip("OLD", T0 + 1), clip("EDGE", T0 + 5))
        world.subscribe("C1", start_ms=T0 + 5, start_uuids=("EDGE",))
        world.rhombus.add(clip("SAME_MS", T0 + 5), clip("NEW", T0 + 6))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["SAME_MS", "NEW"]


@pytest.fixture
def small_digests(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    """A world whose digest threshold is 3."""
    w = World(rhombus, slack, tmp_path / "d.db", digest_threshold=3)
    yield w
    w.close()


class TestDigest:
    def test_over_threshold_is_one_digest(self, small_digests: World) -> None:
        """More waiting clips than the threshold become one digest that accounts for each."""
        world = small_digests
        world.subscribe("C1")
        world.subscribe("C2", camera="dock")
        world.rhombus.add(*(clip(f"D{i}", T0 + i) for i in range(5)))
        world.rhombus.add(clip("DOCK", T0 + 9, cameras=("CAM0000000000000000002",)))
        world.poller.poll_once()
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        assert digest.text == "6 new clips"
        assert world.posted_uuids("C1") == ["D0", "D1", "D2", "D3", "D4", "DOCK"]
        assert world.posted_uuids("C2") == ["DOCK"]
        assert {(c.clip.uuid, c.kind, c.ts) for c in world.store.cards("C1")} == {
            (u, "digest", digest.ts) for u in ("D0", "D1", "D2", "D3", "D4", "DOCK")
        }
        lines = digest.blocks[1]["text"]["text"].splitlines()  # type: ignore[index]
        assert len(lines) == 6 and lines[0].startswith("• <https://console.example.test/")

    def test_long_digest_ends_with_honest_rest(self, small_digests: World) -> None:
        """A digest too long to list says how many more there are and how to see them."""
        world = small_digests
        world.subscribe("C1")
        world.rhombus.add(*(clip(f"D{i:02d}", T0 + i * 60_000) for i in range(45)))
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        assert digest.blocks[-1] == {  # type: ignore[index]
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": "…and 5 more. `/clips 50 since:2h` lists them."}
            ],
        }
        assert len(world.posted_uuids("C1")) == 45


class TestUpdatesAndThumbnails:
    def test_thumbnail_uploaded_and_shown(self, world: World) -> None:
        """A complete clip's thumbnail is uploaded to Slack and shown with a slack_file block."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        (file_id,) = world.slack.uploads
        assert world.slack.uploads[file_id] == THUMBNAIL
        images = [b for b in card.blocks or [] if b["type"] == "image"]
        assert images == [
            {"type": "image", "slack_file": {"id": file_id}, "alt_text": "Thumbnail of Clip A"}
        ]

    def test_thumbnail_not_ready_is_added_later(self, world: World) -> None:
        """A thumbnail Slack is still processing: the card goes without it and gets it next cycle."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.slack.refuse_images = 2
        world.poller.poll_once()  # refused when posted, and again when retried right after
        (card,) = world.slack.posts("C1")
        assert kinds(card) == ["section", "section", "context", "actions"]
        world.poller.poll_once()
        assert kinds(card) == ["section", "section", "image", "context", "actions"]
        world.poller.poll_once()
        assert (card.edits, world.store.card("A", "C1").thumbnail_pending) == (2, False)  # type: ignore[union-attr]
        assert world.posted_uuids("C1") == ["A"]

    def test_missing_thumbnail_does_not_block(self, world: World) -> None:
        """No thumbnail on the media server: the card is posted without an image."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        assert kinds(card) == ["section", "section", "context", "actions"]

    def test_status_change_edits_card(self, world: World) -> None:
        """A rendering clip's card is edited in place when it completes, adding the thumbnail."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1, status="RENDERING"))
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.slack.called("chat.update") == []
        world.rhombus.update("A", status="COMPLETE")
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.poller.poll_once()
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        assert card.edits == 1
        fields = card.blocks[1]["fields"]  # type: ignore[index]
        assert {"type": "mrkdwn", "text": "*Status*\nComplete"} in fields
        assert kinds(card) == ["section", "section", "image", "context", "actions"]
        assert world.store.card("A", "C1").clip.status == "COMPLETE"  # type: ignore[union-attr]


class TestSlackTrouble:
    def test_broken_channel_skipped(self, world: World) -> None:
        """A deleted channel is marked broken and skipped; the others still get their clips."""
        world.slack.channel("CGONE", error="channel_not_found")
        for channel in ("C1", "CGONE", "C2"):
            world.subscribe(channel)
        world.rhombus.add(clip("A", T0 + 1))
        result = world.poller.poll_once()
        world.rhombus.add(clip("B", T0 + 2))
        world.poller.poll_once()
        assert result.broken == ["CGONE"]
        assert (world.posted_uuids("C1"), world.posted_uuids("C2")) == (["A", "B"], ["A", "B"])
        assert world.store.subscription("CGONE").broken == "channel_not_found"  # type: ignore[union-attr]
        gone = [c for c in world.slack.called("chat.postMessage") if c["channel"] == "CGONE"]
        assert len(gone) == 1

    def test_429_is_retried(self, world: World) -> None:
        """A rate-limited post is retried after Retry-After and lands once."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.fail(
            "chat.postMessage",
            Reply.json({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "1"}),
        )
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        assert len(world.slack.called("chat.postMessage")) == 2

    def test_failed_post_retried_next_cycle(self, world: World) -> None:
        """A Slack error holds the position back, and the next cycle posts what was missed."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        world.slack.fail("chat.postMessage", Reply.json({"ok": True, "ts": "1.0"}))
        world.slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "internal_error"}))
        result = world.poller.poll_once()
        assert result.failed == ["Slack posting to C1 failed: internal_error"]
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["B"]
        assert world.store.card("A", "C1").ts == "1.0"  # type: ignore[union-attr]

    def test_rhombus_failure_is_recorded(self, world: World) -> None:
        """A failing feed is recorded for /clips status and the next cycle goes on."""
        world.subscribe("C1")
        world.rhombus.fail("getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Boom"}))
        with pytest.raises(Exception, match="Boom"):
            world.poller.poll_once()
        assert world.store.health(0).last_error == "Rhombus event/getSavedClipsV2 failed: Boom"
        world.rhombus.add(clip("A", T0 + 1))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]


class TestDryRun:
    def test_dry_run_changes_nothing(self, world: World) -> None:
        """A dry run lists what would be posted and posts and stores nothing."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1, title="Gate"))
        result = world.poller.poll_once(dry_run=True)
        assert result.planned == ["C1: Gate (A)"]
        assert (world.slack.calls, world.store.cards(), world.store.position()) == ([], [], None)


def test_subscription_record_defaults() -> None:
    """A subscription without filters takes every org-wide clip after its start."""
    sub = Subscription("C1", "T1", "U1", 0, start_ms=T0)
    assert wants(sub, Clip("A", created_at_ms=T0 + 1), ())
    assert not wants(sub, Clip("A", created_at_ms=T0 - 1), ())
