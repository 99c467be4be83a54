"""Card edits that race settle on what the store holds, in one process and across replicas."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clipbot import replying, triage
from clipbot.blocks import Message
from clipbot.notify import SlackPoster
from clipbot.redraw import redraw
from clipbot.state import Card, ThreadReply
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import CONSOLE, T0, World


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    w.rhombus.add(clip("A", T0 + 1, title="Gate left open"))
    w.poller.poll_once()
    yield w
    w.close()


class Interrupted(SlackPoster):
    """A poster whose first edit pauses after the card was drawn and before Slack has it, for
    `meanwhile` to run: the moment a racing press falls into."""

    def __init__(self, world: World, meanwhile: Callable[[], None]) -> None:
        super().__init__(world.web, pace_seconds=0)
        self._meanwhile: Callable[[], None] | None = meanwhile

    def update(self, channel: str, ts: str, message: Message) -> bool:
        if self._meanwhile is not None:
            run, self._meanwhile = self._meanwhile, None
            run()
        return super().update(channel, ts, message)


def shown_state(world: World) -> str:
    (message,) = world.slack.posts("C1")
    context = next(b for b in message.blocks or [] if b["type"] == "context")
    return str(context["elements"][0]["text"]).split(" · ")[0]


def claim(world: World, poster: SlackPoster) -> None:
    card = world.store.card("A", "C1")
    assert card is not None
    triage.press(
        world.store,
        poster,
        card,
        triage.CLAIM,
        "U2",
        seen_version=card.version,
        note=None,
        at_ms=world.now[0],
        console_url=CONSOLE,
    )


def stored(world: World) -> Card:
    card = world.store.card("A", "C1")
    assert card is not None
    return card


class TestEditRaces:
    def test_across_replicas(self, world: World) -> None:
        """Replica A draws the card, replica B's Claim lands in Slack before A's older picture:
        A sees that in the store and draws again, so the card ends up showing the claim."""
        replica_a = Interrupted(world, lambda: claim(world, world.poster))
        assert redraw(world.store, replica_a, "A", "C1", CONSOLE) is True
        assert stored(world).state.value == "claimed"
        assert shown_state(world) == "Claimed by <@U2>"
        assert len(world.slack.called("chat.update")) == 3  # B's, A's stale one, A's again

    def test_in_one_process(self, world: World) -> None:
        """A press during a redraw in the same process waits for it, then both show the claim;
        the stale picture never stays."""
        done = threading.Event()

        def press_meanwhile() -> None:
            def run() -> None:
                claim(world, poster)
                done.set()

            threading.Thread(target=run, daemon=True).start()
            # The press stores the claim at once; its edit waits for this redraw's lock (so
            # this wait runs out), where without the lock it would land first.
            done.wait(timeout=1.0)

        poster = Interrupted(world, press_meanwhile)
        redraw(world.store, poster, "A", "C1", CONSOLE)
        assert done.wait(timeout=10)
        assert shown_state(world) == "Claimed by <@U2>"


def test_card_locks_are_shared_while_held_and_then_dropped(world: World) -> None:
    """Two edits of one card get one lock; once none holds it, the gateway keeps no lock."""
    lock = world.poster.card_lock("A", "C1")
    assert world.poster.card_lock("A", "C1") is lock
    assert world.poster.card_lock("B", "C1") is not lock
    del lock
    assert len(world.poster._card_locks) == 0


class TestThreadRepliesAcrossReplicas:
    @pytest.fixture
    def replicas(
        self, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path, postgres_url: str
    ) -> Iterator[tuple[World, World]]:
        """Two replicas on one PostgreSQL: the leader, which polls (and settles), and another
        that handles a press (HTTP mode behind a load balancer, say)."""
        leader = World(rhombus, slack, tmp_path / "unused", database_url=postgres_url)
        other = World(rhombus, slack, tmp_path / "unused", database_url=postgres_url, lead=False)
        leader.subscribe("C1")
        rhombus.add(clip("A", T0 + 1, title="Gate left open"))
        leader.poller.poll_once()
        yield leader, other
        other.close()
        leader.close()

    def test_a_line_another_replica_is_sending_is_posted_once(
        self, replicas: tuple[World, World]
    ) -> None:
        """The leader's clean-up, run while another replica's thread line is on its way (waiting
        for its turn, say), leaves that line alone: it is claimed in the store, not in doubt."""
        leader, other = replicas

        class SettlingMidPost(SlackPoster):
            def reply(self, *args: Any, **kwargs: Any) -> str:
                leader.poller.poll_once()  # the leader's cycle, while this line is on its way
                return super().reply(*args, **kwargs)

        (card,) = leader.slack.posts("C1")
        sent = replying.reply(
            other.store,
            SettlingMidPost(other.web, pace_seconds=0),
            channel="C1",
            thread_ts=card.ts,
            key="press:C1:A:1",
            text="<@U2> claimed this clip",
            at_ms=leader.clock(),
        )
        assert sent is True
        assert [m.text for m in leader.slack.replies("C1", card.ts)] == ["<@U2> claimed this clip"]
        assert leader.store.replies_in_doubt() == []

    def test_a_line_whose_sender_died_is_settled_once_its_claim_runs_out(
        self, replicas: tuple[World, World]
    ) -> None:
        """A replica that died while sending a line leaves it claimed; the leader leaves it
        while the claim runs, then finds it missing from the thread and sends it, once."""
        leader, other = replicas
        (card,) = leader.slack.posts("C1")
        line = ThreadReply("press:C1:A:1", "C1", card.ts, "<@U2> claimed this clip", T0)
        assert other.store.reserve_reply(line, claim_ms=60_000)  # then the replica died
        leader.poller.poll_once()
        assert leader.slack.replies("C1", card.ts) == []
        other.store.release_reply(line.key)
        assert other.store.reserve_reply(line, claim_ms=-1)  # the same, its claim run out
        leader.poller.poll_once()
        leader.poller.poll_once()
        assert [m.text for m in leader.slack.replies("C1", card.ts)] == ["<@U2> claimed this clip"]
        assert leader.store.replies_in_doubt() == []
