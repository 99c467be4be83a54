"""Fan-out: every channel's first message is reserved in one durable write before any is
posted (delivery.reserve_first); the process dying at each boundary of that batch leaves every
clip in every channel exactly once, in order, after a restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from clipbot.store.batching import GroupCommit
from clipbot.store.connection import Connection
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

CARD_CHANNELS = ("C1", "C2", "C3", "C4", "C5")
DOOR, DOCK = "CAM0000000000000000001", "CAM0000000000000000002"
# Two door clips for each card channel (two cards, in order); DIGEST gets all four: a digest.
CLIPS = [("X1", DOOR), ("Y1", DOCK), ("X2", DOOR), ("Y2", DOCK)]
EXPECTED = {
    **{c: ["X1", "X2"] for c in CARD_CHANNELS},
    "DIGEST": ["X1", "Y1", "X2", "Y2"],
}


class Crash(Exception):
    """Stands for the process dying."""


class Death:
    """The process dying at one moment: from then on every Slack call and every store write,
    in every thread, raises Crash, as if nothing after that moment happened."""

    def __init__(self, world: World) -> None:
        self.dead = threading.Event()
        call: Callable[..., Any] = world.web.api_call
        database: Any = world.store._db  # type: ignore[attr-defined]
        transaction: Callable[..., AbstractContextManager[Connection]] = database.transaction

        def calling(*args: Any, **kwargs: Any) -> Any:
            self.check()
            return call(*args, **kwargs)

        def writing(**kwargs: Any) -> AbstractContextManager[Connection]:
            self.check()
            return transaction(**kwargs)

        world.web.api_call = calling  # type: ignore[method-assign]
        database.transaction = writing

    def check(self) -> None:
        if self.dead.is_set():
            raise Crash

    def now(self) -> None:
        self.dead.set()
        raise Crash

    def restart(self, world: World) -> None:
        """A new process on the same file. The dead one is closed first, so the file's lock
        is free as a real death leaves it; the lease it gives back on closing is the one write
        after its death, and delivery does not depend on it."""
        self.dead.clear()
        world.restart()


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=3)
    for channel in CARD_CHANNELS:
        w.subscribe(channel, camera="door")
    w.subscribe("DIGEST")
    for n, (uuid, camera) in enumerate(CLIPS):
        rhombus.thumbnails[uuid] = THUMBNAIL
        rhombus.add(clip(uuid, T0 + 1 + n, cameras=(camera,)))
    w.poller.workers = 3  # fewer than the channels: some are not started when it dies
    yield w
    w.close()


def posts(world: World) -> int:
    return len(world.slack.posts())


def restart_and_check(world: World, death: Death) -> None:
    """A new process on the same file: a few cycles later every channel has each of its
    clips once, in feed order, and nothing is in doubt."""
    death.restart(world)
    for _ in range(3):
        world.poller.poll_once()
    assert {c: world.posted_uuids(c) for c in EXPECTED} == EXPECTED
    assert world.store.in_doubt() == []


def dying_post(world: World, death: Death, at: int, after: bool) -> None:
    """chat.postMessage number `at` (from 1) kills the process, once the posts before it are
    answered: before Slack gets it, or after (Slack has it, the answer is lost). Posts started
    after it never reach Slack."""
    post: Callable[..., Any] = world.poster.post
    count, answered, turn = [0], [0], threading.Condition()

    def posting(*args: Any, **kwargs: Any) -> Any:
        with turn:
            count[0] += 1
            n = count[0]
            if n == at:
                turn.wait_for(lambda: answered[0] >= at - 1, timeout=10)
        if n > at:
            raise Crash  # dead, or about to be: this one was never sent
        if n == at and not after:
            death.now()
        sent = post(*args, **kwargs)
        with turn:
            answered[0] += 1
            turn.notify_all()
        if n == at:
            death.now()
        return sent

    world.poster.post = posting  # type: ignore[method-assign]


def test_first_messages_are_reserved_in_one_commit(world: World) -> None:
    """One cycle's first messages for six channels (five cards, one digest) take one durable
    transaction; each channel's second card is reserved as it goes."""
    group: GroupCommit = world.store._reservations  # type: ignore[attr-defined]
    world.poller.workers = 1
    reserved: list[list[str]] = []
    reserve_each = world.store.reserve_each

    def noting(messages: Any) -> list[bool]:
        reserved.append(sorted(f"{m[0].channel_id}:{m[0].clip.uuid}" for m in messages))
        return reserve_each(messages)

    world.store.reserve_each = noting  # type: ignore[method-assign]
    world.poller.poll_once()
    first = sorted([*(f"{c}:X1" for c in CARD_CHANNELS), "DIGEST:X1"])
    assert reserved == [first, *[[f"{c}:X2"] for c in CARD_CHANNELS]]
    assert group.commits == 1 + len(CARD_CHANNELS)
    assert {c: world.posted_uuids(c) for c in EXPECTED} == EXPECTED


def test_crash_after_the_batch_reservation_before_any_post(world: World) -> None:
    """Dead once every first message is reserved and none is posted: on restart each is in
    doubt, looked for in its channel, not found, and posted once."""
    death = Death(world)
    dying_post(world, death, 1, after=False)
    with pytest.raises(Crash):
        world.poller.poll_once()
    in_doubt = {(c.channel_id, c.clip.uuid) for c in world.store.in_doubt()}
    assert posts(world) == 0
    assert in_doubt == {
        *((c, "X1") for c in CARD_CHANNELS),
        *(("DIGEST", u) for u in EXPECTED["DIGEST"]),
    }
    restart_and_check(world, death)


@pytest.mark.parametrize("after", [False, True], ids=["before-slack", "answer-lost"])
def test_crash_mid_batch_after_some_posts(world: World, after: bool) -> None:
    """Dead at the third post (before Slack got it, or after with its answer lost), two posted
    and confirmed, the other reservations of the batch never tried: each found or posted once."""
    death = Death(world)
    dying_post(world, death, 3, after=after)
    with pytest.raises(Crash):
        world.poller.poll_once()
    assert posts(world) == (3 if after else 2)
    restart_and_check(world, death)


def test_crash_after_posts_before_their_confirms(world: World) -> None:
    """Dead once every first message reached Slack and no answer was written down: on restart
    each (the digest included) is found by its metadata and confirmed, never posted again."""
    death = Death(world)
    first_messages = world.poller.workers = len(EXPECTED)  # all posted side by side
    deadline = time.monotonic() + 10
    confirm = world.store.confirm

    def waiting(*args: Any, **kwargs: Any) -> None:
        while posts(world) < first_messages and time.monotonic() < deadline:
            time.sleep(0.001)  # the answers of the others are lost with this one
        death.now()
        confirm(*args, **kwargs)

    world.store.confirm = waiting  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.poller.poll_once()
    assert posts(world) == first_messages
    assert len(world.store.in_doubt()) == len(CARD_CHANNELS) + len(EXPECTED["DIGEST"])
    restart_and_check(world, death)
    assert posts(world) == sum(2 for _ in CARD_CHANNELS) + 1


def test_stopping_releases_what_was_reserved_ahead(world: World) -> None:
    """A replica that stops leading right after the batch reservation posts nothing and
    leaves nothing in doubt: its reservations go, and the next leader posts each once."""
    calls = [0]

    def leading() -> bool:
        calls[0] += 1
        return calls[0] == 1  # led when the batch was reserved, then not

    world.poller.leading = leading
    world.poller.poll_once()
    assert (posts(world), world.store.in_doubt()) == (0, [])
    world.poller.leading = lambda: True
    world.poller.poll_once()
    assert {c: world.posted_uuids(c) for c in EXPECTED} == EXPECTED


def test_a_card_reserved_ahead_keeps_its_thumbnail(world: World) -> None:
    """Reserved before its thumbnail was uploaded, a card records the thumbnail it was posted
    with when it is confirmed (redraws show it)."""
    world.poller.poll_once()
    card = world.store.card("X1", "C1")
    (upload,) = [f.id for f in world.slack.files.values() if f.filename == "X1.jpeg"]
    assert card is not None and card.thumbnail_file_id == upload


def test_a_fan_out_cycle_waits_for_the_disk_once(
    rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
) -> None:
    """One clip for twelve channels: the one write that waits for the disk is the reservation
    of every card; confirmations, feed positions and health do not wait (each recovered if a
    machine crash loses it)."""
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    try:
        for n in range(12):
            w.subscribe(f"C{n:02d}")
        rhombus.thumbnails["F1"] = THUMBNAIL
        rhombus.add(clip("F1", T0 + 1))
        database: Any = w.store._db  # type: ignore[attr-defined]
        transaction = database.transaction
        durable: list[bool] = []

        def counted(**kwargs: Any) -> AbstractContextManager[Connection]:
            durable.append(kwargs.get("durable", True))
            return transaction(**kwargs)

        database.transaction = counted
        w.poller.poll_once()
        assert [w.posted_uuids(f"C{n:02d}") for n in range(12)] == [["F1"]] * 12
        assert durable.count(True) == 1
        assert w.store.subscription("C00").position_ms == T0 + 1  # type: ignore[union-attr]
    finally:
        w.close()
