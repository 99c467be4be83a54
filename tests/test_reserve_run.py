"""Reserve-ahead within a channel: after its first message, a channel reserves its next
RESERVE_AHEAD cards in one durable write (delivery._reserve_ahead). The process dying with K
reserved and j < K of them posted leaves every clip once, in order, after a restart; stopping,
or a clip another process holds, releases what was reserved and not sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clipbot.delivery import RESERVE_AHEAD
from clipbot.store.batching import GroupCommit
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_reserve_ahead import Crash, Death, dying_post
from tests.world import T0, World

CHANNELS = ("C1", "C2")
# Enough for the first card, two full runs reserved ahead, and a short one.
CARDS = 1 + 2 * RESERVE_AHEAD + 3
UUIDS = [f"X{n:02d}" for n in range(CARDS)]


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=CARDS)
    for channel in CHANNELS:
        w.subscribe(channel)
    for n, uuid in enumerate(UUIDS):
        rhombus.thumbnails[uuid] = THUMBNAIL
        rhombus.add(clip(uuid, T0 + 1 + n))
    w.poller.workers = 1  # one channel after the other: post numbers are predictable
    yield w
    w.close()


def restart_and_check(world: World, death: Death) -> None:
    death.restart(world)
    for _ in range(3):
        world.poller.poll_once()
    assert {c: world.posted_uuids(c) for c in CHANNELS} == {c: UUIDS for c in CHANNELS}
    assert world.store.in_doubt() == []
    assert len(world.slack.posts()) == len(CHANNELS) * CARDS


def test_a_channel_reserves_its_cards_a_run_at_a_time(world: World) -> None:
    """The first messages in one commit, then each channel's cards RESERVE_AHEAD per commit."""
    group: GroupCommit = world.store._reservations  # type: ignore[attr-defined]
    reserved: list[list[str]] = []
    reserve_each = world.store.reserve_each

    def noting(messages: Any) -> list[bool]:
        reserved.append([f"{m[0].channel_id}:{m[0].clip.uuid}" for m in messages])
        return reserve_each(messages)

    world.store.reserve_each = noting  # type: ignore[method-assign]
    world.poller.poll_once()
    runs = [UUIDS[1 : 1 + RESERVE_AHEAD], UUIDS[1 + RESERVE_AHEAD : -3], UUIDS[-3:]]
    assert reserved == [
        [f"{c}:X00" for c in CHANNELS],
        *([f"{c}:{u}" for u in run] for c in CHANNELS for run in runs),
    ]
    assert group.commits == 1 + len(CHANNELS) * len(runs)
    assert {c: world.posted_uuids(c) for c in CHANNELS} == {c: UUIDS for c in CHANNELS}


@pytest.mark.parametrize("j", [0, 1, RESERVE_AHEAD - 1])
@pytest.mark.parametrize("after", [False, True], ids=["before-slack", "answer-lost"])
def test_crash_with_a_run_reserved_and_some_posted(world: World, j: int, after: bool) -> None:
    """Dead at post j + 1 of C1's first run reserved ahead (j of its K cards posted before it;
    before Slack got that post, or after with its answer lost): the rest of the run is in
    doubt, and after a restart each clip is in each channel once, in order."""
    death = Death(world)
    dying_post(world, death, 2 + j, after=after)  # post 1 is C1's first card
    with pytest.raises(Crash):
        world.poller.poll_once()
    c1 = [(c.clip.uuid, c.ts is None) for c in world.store.cards("C1")]
    run = UUIDS[1 : 1 + RESERVE_AHEAD]
    assert c1 == [(u, False) for u in UUIDS[: 1 + j]] + [(u, True) for u in run[j:]]
    assert len(world.slack.posts("C1")) == 1 + j + int(after)
    restart_and_check(world, death)


def test_stopping_mid_run_releases_the_rest(world: World) -> None:
    """A stop after a channel's third post: the cards it reserved ahead and did not send are
    released, nothing is in doubt, and the next cycle posts them once, in order."""
    post = world.poster.post
    sent = [0]

    def posting(*args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        if sent[0] == 3:
            world.poller.stopping.set()
        return post(*args, **kwargs)

    world.poster.post = posting  # type: ignore[method-assign]
    world.poller.poll_once()
    assert world.store.in_doubt() == []
    # C2 was not started: its first card, reserved with C1's, is released too.
    assert [c.clip.uuid for c in world.store.cards()] == UUIDS[:3]
    world.poller.stopping.clear()
    world.poster.post = post  # type: ignore[method-assign]
    world.poller.poll_once()
    assert {c: world.posted_uuids(c) for c in CHANNELS} == {c: UUIDS for c in CHANNELS}


def test_a_clip_held_by_another_process_cuts_the_run(world: World) -> None:
    """Another process reserves C1's fourth clip between the plan and the posting: C1 posts the
    three before it, releases the cards it reserved after it, and holds there; the clip stays
    the other process's."""
    other = 3
    reserve_each = world.store.reserve_each
    first = [True]

    def racing(messages: Any) -> list[bool]:
        if first[0]:  # the batch of first messages: the other process takes the clip now
            first[0] = False
            ours = next(m[0] for m in messages if m[0].channel_id == "C1")
            world.store.reserve([replace(ours, clip=replace(ours.clip, uuid=UUIDS[other]))])
        return reserve_each(messages)

    world.store.reserve_each = racing  # type: ignore[method-assign]
    world.poller.workers = 2
    outcome = world.poller.poll_once()
    assert world.posted_uuids("C1") == UUIDS[:other]
    assert [(c.clip.uuid, c.ts is None) for c in world.store.cards("C1")] == [
        *((u, False) for u in UUIDS[:other]),
        (UUIDS[other], True),
    ]
    assert world.posted_uuids("C2") == UUIDS
    assert outcome.posted == other + CARDS
