"""Burst grouping: which clips join a recent card's thread (pure), and how lines and counts read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipbot.blocks import clip_card
from clipbot.grouping import Parent, group
from clipbot.records import Clip
from clipbot.state import Card, CardKind
from clipbot.threadline import grouped_line
from tests.bolt import Bot
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_poller import Crash, crash_on
from tests.world import T0, World

DOCK, DOOR = "CAM0000000000000000002", "CAM0000000000000000001"
CONSOLE = "https://console.example.test"


def made(uuid: str, at: int, camera: str = DOCK, **extra: object) -> Clip:
    found = Clip.from_api(clip(uuid, at, cameras=(camera,), **extra))
    assert found is not None
    return found


class TestGroup:
    def test_burst_joins_the_first_card_of_its_camera(self) -> None:
        """Clips from one camera within the window of its card join that card; others do not."""
        clips = [
            made("A", T0),
            made("B", T0 + 30_000),
            made("C", T0 + 40_000, DOOR),
            made("D", T0 + 119_999),
            made("E", T0 + 120_000),
            made("F", T0 + 130_000),
        ]
        assert group(clips, 120_000, []) == {"B": "A", "D": "A", "F": "E"}

    def test_joins_a_card_posted_earlier(self) -> None:
        """A card already in the channel (from an earlier cycle) is joined by its camera's clips."""
        parents = [Parent("OLD", DOCK, T0 - 200_000), Parent("P", DOCK, T0 - 60_000)]
        clips = [made("A", T0), made("B", T0 + 61_000)]
        assert group(clips, 120_000, parents) == {"A": "P"}

    def test_clip_without_camera_gets_its_own_card(self) -> None:
        """A clip with no camera never joins or starts a group."""
        bare = Clip.from_api(
            {**clip("X", T0), "deviceUuid": None, "deviceUuids": [], "devicePresentationOrder": []}
        )
        assert bare is not None and bare.camera_ids == ()
        assert group([made("A", T0 - 1000), bare], 120_000, []) == {}


class TestBlocks:
    def test_card_counts_its_thread(self) -> None:
        """A card with grouped clips says how many are in its thread, and from which camera."""
        card = Card(made("A", T0), "C1", T0, ts="1.1", camera_names=("Loading Dock",), grouped=3)
        context = [b for b in clip_card(card, CONSOLE)["blocks"] if b["type"] == "context"]
        assert context[-1] == {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": ":thread: +3 more clips from Loading Dock in the thread"}
            ],
        }

    def test_thread_line(self) -> None:
        """A grouped clip's line: linked title, time, duration, status, and its thumbnail."""
        line = Card(
            made("B", T0, title="Forklift <again>"),
            "C1",
            T0,
            kind=CardKind.LINE,
            camera_names=("Loading Dock",),
            thumbnail_file_id="F1",
            group_of="A",
        )
        assert grouped_line(line, CONSOLE) == {
            "text": "Also from Loading Dock: Forklift &lt;again&gt;",
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"*<{CONSOLE}/devices/cameras/{DOCK}/?t={T0 - 60_000}|Forklift &lt;again&gt;>*"
                        f" · <!date^{T0 // 1000}^{{time}}|2025-11-24 16:00 UTC> · 30s · Complete",
                    },
                },
                {
                    "type": "image",
                    "slack_file": {"id": "F1"},
                    "alt_text": "Thumbnail of Forklift <again>",
                },
            ],
        }


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


def dock(uuid: str, at: int, **extra: object) -> dict[str, object]:
    return clip(uuid, at, cameras=(DOCK,), **extra)


def thread(world: World, channel: str = "C1") -> list[str]:
    """Clip uuids of the lines in the thread of the channel's first card, in order."""
    card = world.slack.posts(channel)[0]
    return [
        (m.metadata or {}).get("event_payload", {}).get("clip_uuid")
        for m in world.slack.replies(channel, card.ts)
    ]


def counted(world: World, channel: str = "C1") -> str | None:
    """The count line on the channel's first card, if it has one."""
    for block in world.slack.posts(channel)[0].blocks or []:
        text = block.get("elements", [{}])[0].get("text", "") if block["type"] == "context" else ""
        if text.startswith(":thread:"):
            return str(text)
    return None


class TestPosting:
    def test_burst_goes_into_the_first_cards_thread(self, world: World) -> None:
        """A camera's clips within the window join its card's thread; the card counts them."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(
            dock("A", T0 + 1),
            dock("B", T0 + 30_000),
            clip("C", T0 + 40_000, cameras=(DOOR,)),
            dock("D", T0 + 60_000),
        )
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "C"]
        assert thread(world) == ["B", "D"]
        assert counted(world) == ":thread: +2 more clips from Loading Dock in the thread"
        line = world.slack.replies("C1", world.slack.posts("C1")[0].ts)[0]
        assert line.text == "Also from Loading Dock: Clip B"

    def test_later_cycles_and_the_window(self, world: World) -> None:
        """A clip arriving a cycle later joins the card; one past the window starts a new card."""
        world.subscribe("C1", group_ms=120_000)
        world.subscribe("C2")
        world.rhombus.add(dock("A", T0 + 1))
        world.poller.poll_once()
        world.rhombus.add(dock("B", T0 + 100_000))
        world.poller.poll_once()
        world.rhombus.add(dock("E", T0 + 200_000))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "E"]
        assert thread(world) == ["B"]
        assert counted(world) == ":thread: +1 more clip from Loading Dock in the thread"
        assert world.posted_uuids("C2") == ["A", "B", "E"]  # no grouping there

    def test_status_change_edits_the_line(self, world: World) -> None:
        """A grouped clip that finishes rendering has its line edited, not posted again."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2, status="RENDERING"))
        world.poller.poll_once()
        world.rhombus.update("B", status="COMPLETE")
        world.poller.poll_once()
        (line,) = world.slack.replies("C1", world.slack.posts("C1")[0].ts)
        assert line.edits == 1
        assert line.blocks is not None and " · Complete" in line.blocks[0]["text"]["text"]
        assert thread(world) == ["B"]

    def test_thumbnail_added_to_the_line_when_ready(self, world: World) -> None:
        """A grouped clip whose thumbnail the media server did not have yet gets it on its line
        later, by an edit."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        world.poller.poll_once()
        (line,) = world.slack.replies("C1", world.slack.posts("C1")[0].ts)
        assert [b["type"] for b in line.blocks or []] == ["section"]
        world.rhombus.thumbnails["B"] = THUMBNAIL
        world.now[0] += 61_000
        world.poller.poll_once()
        assert [b["type"] for b in line.blocks or []] == ["section", "image"]
        assert thread(world) == ["B"]

    def test_dry_run_says_where_clips_go(self, world: World) -> None:
        """`poll --once --dry-run` names the card whose thread a grouped clip would join."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        result = world.poller.poll_once(dry_run=True)
        assert result.planned == ["C1: Clip A (A)\nC1: Clip B (B) in the thread of A"]
        assert world.slack.posts("C1") == []

    def test_open_lists_the_card_for_the_group(self, world: World) -> None:
        """Triage is on the card: /clips open lists it once, not its grouped clips."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        world.poller.poll_once()
        assert [c.clip.uuid for c in world.store.open_cards("C1")] == ["A"]


GROUP_STEPS = [
    ("store", "reserve", 1, False),  # the line's (the card's goes with every first message)
    ("poster", "post", 2, False),
    ("poster", "post", 2, True),
    ("store", "confirm", 2, False),
    ("store", "confirm", 2, True),
    ("poster", "update", 1, False),
    ("poster", "update", 1, True),
    ("store", "set_grouped_shown", 1, False),
]


class TestExactlyOnce:
    @pytest.mark.parametrize(("part", "method", "call", "after"), GROUP_STEPS)
    def test_crash_between_line_and_card_edit(
        self, world: World, part: str, method: str, call: int, after: bool
    ) -> None:
        """Dying at any step from the line's reservation to the card's edit, then starting
        again: the line is in the thread once and the card counts it."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        crash_on(getattr(world, part), method, call, after)
        with pytest.raises(Crash):
            world.poller.poll_once()
        world.restart()
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        assert thread(world) == ["B"]
        assert counted(world) == ":thread: +1 more clip from Loading Dock in the thread"
        assert [(c.clip.uuid, c.kind, c.ts is not None) for c in world.store.cards()] == [
            ("A", "card", True),
            ("B", "line", True),
        ]

    def test_lost_answer_for_the_line(self, world: World) -> None:
        """A line whose answer was lost (Slack posted it) is found in the thread, not re-sent."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        real = world.poster.post

        def lost(channel: str, message: dict[str, Any], metadata: Any = None) -> Any:
            sent = real(channel, message, metadata)
            if "thread_ts" in message:
                raise OSError("connection reset")
            return sent

        world.poster.post = lost  # type: ignore[method-assign]
        world.poller.poll_once()
        assert counted(world) is None  # not counted while in doubt
        world.poster.post = real  # type: ignore[method-assign]
        world.poller.poll_once()
        assert thread(world) == ["B"]
        assert counted(world) == ":thread: +1 more clip from Loading Dock in the thread"

    def test_line_that_never_arrived_is_posted_again(self, world: World) -> None:
        """A line in doubt that is not in the thread is posted once more."""
        world.subscribe("C1", group_ms=120_000)
        world.rhombus.add(dock("A", T0 + 1), dock("B", T0 + 2))
        crash_on(world.poster, "post", 2)
        with pytest.raises(Crash):
            world.poller.poll_once()
        world.restart()
        world.poller.poll_once()
        assert thread(world) == ["B"]


class TestSubscribe:
    def test_group_window_stored_and_said(self, world: World) -> None:
        """`/clips subscribe group:2m` stores the window and says what it does."""
        bot = Bot(world)
        bot.command("subscribe group:2m")
        assert bot.next_response()["text"] == (
            "Subscribed <#C1> to new clips from all cameras, grouping a camera's clips within"
            " 2 min in one card. Clips saved before now are not posted."
        )
        sub = world.store.subscription("C1")
        assert sub is not None and sub.group_ms == 120_000


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 600_000), st.sampled_from([DOCK, DOOR])), max_size=30).map(
        sorted
    ),
    st.integers(1_000, 300_000),
)
def test_group_invariants(stamps: list[tuple[int, str]], window: int) -> None:
    """Whatever the burst: a clip joins only an earlier card (never a joined clip) of its own
    camera saved less than the window before it, and a clip that could join one does."""
    clips = [made(f"K{i:02d}", T0 + at, camera) for i, (at, camera) in enumerate(stamps)]
    joins = group(clips, window, [])
    by_uuid = {c.uuid: c for c in clips}
    cards: dict[str, Clip] = {}
    for c in clips:
        parent = joins.get(c.uuid)
        current = cards.get(c.camera_ids[0])
        if parent is None:
            assert current is None or c.created_at_ms - current.created_at_ms >= window
            cards[c.camera_ids[0]] = c
        else:
            assert parent not in joins and by_uuid[parent] is current
            assert 0 <= c.created_at_ms - current.created_at_ms < window
