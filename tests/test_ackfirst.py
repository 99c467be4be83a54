"""Every request is acknowledged before clipbot looks anything up, writes anything or acts
(clipbot.slack.ackfirst); the delivery key is still written before acting, so a redelivery is
acted on once, over the real Bolt stack and a real Socket Mode connection."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from clipbot.slack.inhand import AcknowledgingHandler, InHand
from tests import test_http
from tests.bolt import Bot, eventually
from tests.fakes.slack import APP_TOKEN, FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.test_http import card
from tests.world import World

world = test_http.world  # the same fixture: a subscribed C1 with the card of clip A


class Held:
    """Stands in for `real` and holds every call until `release` is set; `entered` is set once
    a call came in."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.release.wait(10), "held call never released"
        return self.real(*args, **kwargs)


class TestAcknowledgedFirst:
    def test_command_acked_while_the_guest_check_waits(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """/clips is acknowledged (empty) while users.info has not answered; the answer comes
        through the response_url once it has."""
        bot = Bot(world)
        held = Held(bot.deps.guests.refusal)
        monkeypatch.setattr(bot.deps.guests, "refusal", held)
        ack = bot.command("")
        assert (ack.status, ack.body) == (200, "")
        assert held.entered.wait(5)
        assert world.slack.responses == []
        held.release.set()
        assert "Gate left open" in str(bot.next_response())

    def test_press_acked_before_its_delivery_is_written(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A Claim press is acknowledged while the store has not yet noted its delivery, and is
        acted on only after that: nothing is claimed while the write is held."""
        bot = Bot(world)
        held = Held(world.store.first_delivery)
        monkeypatch.setattr(world.store, "first_delivery", held)
        ack = bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
        assert (ack.status, ack.body) == (200, "")
        assert held.entered.wait(5)
        assert (world.store.card("A", "C1").owner, card(world).edits) == (None, 0)  # type: ignore[union-attr]
        assert world.slack.called("users.info") == []  # the repeat check comes first
        held.release.set()
        bot.settled()
        assert world.store.card("A", "C1").owner == "U2"  # type: ignore[union-attr]

    def test_two_copies_at_once_act_once(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same Share press delivered twice, both acknowledged before either is acted on,
        makes one link and one thread reply: the store settles which copy acts."""
        bot = Bot(world)
        held = Held(world.store.first_delivery)
        monkeypatch.setattr(world.store, "first_delivery", held)
        for _ in range(2):
            ack = bot.press("clip_share", "A", user="U2", ts=card(world).ts, trigger="T-twice")
            assert (ack.status, ack.body) == (200, "")
        held.release.set()
        bot.settled()
        assert len(world.rhombus.shares) == 1
        assert len(world.slack.replies("C1", card(world).ts)) == 1

    def test_failure_after_the_ack_is_told(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Work failing after the acknowledgement still gets the short answer, not silence."""

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("bug")

        bot = Bot(world)
        monkeypatch.setattr(world.store, "open_cards", broken)
        ack = bot.command("open")
        assert (ack.status, ack.body) == (200, "")
        assert bot.next_response()["text"] == (
            "Something went wrong inside clipbot; it is logged. Please try again."
        )


class TestSocketMode:
    def test_redelivered_envelope_acked_and_acted_on_once(
        self, world: World, slack: FakeSlack, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Over a real Socket Mode connection, a Claim press and its later redelivery (Slack's
        `retry_attempt` 1, same trigger_id) are both acknowledged; the card is claimed once."""
        caplog.set_level(logging.INFO, "clipbot.slack.gate")
        server = FakeSocketMode().start()
        slack.socket_url = server.url
        bot = Bot(world)
        handler = AcknowledgingHandler(bot.app, APP_TOKEN, bot.in_hand, concurrency=2)
        try:
            handler.connect()  # type: ignore[no-untyped-call]
            assert eventually(lambda: server.connections)
            press = {
                "type": "block_actions",
                "team": {"id": "T0001"},
                "user": {"id": "U2"},
                "channel": {"id": "C1"},
                "container": {"type": "message", "channel_id": "C1", "message_ts": card(world).ts},
                "trigger_id": "T-socket-1",
                "response_url": slack.response_url(),
                "actions": [
                    {"action_id": "clip_claim", "block_id": "triage:0", "value": "A"},
                ],
            }
            first = server.send("interactive", press)
            assert eventually(lambda: world.slack.replies("C1", card(world).ts))
            again = server.send("interactive", press, retry_attempt=1)
            assert eventually(lambda: server.ack_for(first) and server.ack_for(again))
            no_delay = nodelay(handler)
            bot.settled()
        finally:
            handler.close()  # type: ignore[no-untyped-call]
            server.stop()
        assert [e.action for e in world.store.events("A", "C1")] == ["claim"]
        assert (card(world).edits, len(world.slack.replies("C1", card(world).ts))) == (1, 1)
        assert "delivery trigger:T-socket-1 came again (retry 1): not acted on" in caplog.text
        assert bot.in_hand.wait(0)  # both were reported received and acknowledged
        assert no_delay  # each acknowledgement is sent at once, not held back by Nagle


def nodelay(handler: AcknowledgingHandler) -> bool:
    sock = handler.client.current_session.sock  # type: ignore[union-attr]
    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))  # type: ignore[union-attr]


def frame(envelope_id: str) -> str:
    """A Socket Mode frame as slack_sdk reads it (a quoted key in the payload is escaped)."""
    return (
        f'{{"envelope_id": "{envelope_id}", "type": "slash_commands", "payload": '
        '{"text": "\\"envelope_id\\": \\"not-this\\""}, "accepts_response_payload": true}'
    )


class TestAcknowledgementsBeforeWork:
    def test_work_waits_for_another_envelope_in_hand(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A command's work does not start while another envelope of the burst still waits for
        its acknowledgement; it starts once that is sent."""
        bot = Bot(world)
        looked_up = threading.Event()
        real = bot.deps.guests.refusal

        def refusal(*args: Any) -> str | None:
            looked_up.set()
            return real(*args)

        monkeypatch.setattr(bot.deps.guests, "refusal", refusal)
        bot.in_hand.received(frame("E-later"))
        ack = bot.command("")
        assert (ack.status, ack.body) == (200, "")
        assert not looked_up.wait(0.3)
        bot.in_hand.acknowledged("E-later")
        assert "Gate left open" in str(bot.next_response())

    def test_nothing_in_hand_nothing_waited_for(self) -> None:
        """Over HTTP (nothing reported) and after hello frames, work does not wait."""
        in_hand = InHand()
        assert in_hand.wait(0)
        in_hand.received('{"type": "hello", "num_connections": 1}')
        assert in_hand.wait(0)

    def test_received_until_acknowledged(self) -> None:
        """An envelope is waited for from its frame to its acknowledgement, by its own id (not
        one quoted in its payload); a wait gives up after its timeout."""
        in_hand = InHand()
        in_hand.received(frame("E1"))
        assert in_hand.wait(0.05) is False
        in_hand.acknowledged("not-this")
        assert in_hand.wait(0.05) is False
        later = threading.Timer(0.1, in_hand.acknowledged, ["E1"])
        later.start()
        assert in_hand.wait(5) is True
        later.join()

    def test_acknowledged_before_its_frame_was_noted(self) -> None:
        """slack_sdk tells of a frame after queueing it, so its acknowledgement may come first:
        it is then not waited for."""
        in_hand = InHand()
        in_hand.acknowledged("E1")
        in_hand.received(frame("E1"))
        assert in_hand.wait(0)

    def test_an_envelope_never_acknowledged_is_forgotten(self) -> None:
        """An envelope still not acknowledged after Slack's 3 s deadline holds no work back."""
        now = [0.0]
        in_hand = InHand(clock=lambda: now[0])
        in_hand.received(frame("E1"))
        now[0] = 3.5
        assert in_hand.wait(1.0) is True
