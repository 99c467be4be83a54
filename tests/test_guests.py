"""Slack guests are refused everywhere, through the real Bolt stack and a real users.info."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.slack.answering import notice
from clipbot.slack.gate import GUEST_REFUSAL, NO_USER, Guests
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World

NOW = T0 + 3_600_000
REFUSED = {"text": GUEST_REFUSAL, "response_type": "ephemeral", "replace_original": False}


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    rhombus.add(clip("A", T0 + 1, title="Gate left open"))
    w.poller.poll_once()
    slack.users.guest("UGUEST")
    slack.users.guest("USINGLE", single_channel=True)
    yield w
    w.close()


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world, admins=frozenset({"UGUEST", "UADMIN"}))  # being an admin does not help


def card(world: World) -> Message:
    (message,) = world.slack.posts("C1")
    return message


def untouched(world: World) -> bool:
    """The card, its thread, Rhombus shares and the audit trail are as the poll left them."""
    stored = world.store.card("A", "C1")
    return (
        stored is not None
        and (stored.state.value, stored.version) == ("open", 0)
        and card(world).edits == 0
        and world.slack.replies("C1", card(world).ts) == []
        and world.rhombus.shares == []
        and world.store.audit(0) == []
    )


class TestGuestsRefused:
    @pytest.mark.parametrize("user", ["UGUEST", "USINGLE"])
    def test_clips_command(self, bot: Bot, world: World, user: str) -> None:
        """/clips from a guest is acknowledged empty, then refused through its response_url;
        nothing is listed or subscribed, not even help is given."""
        listed = len(world.rhombus.calls("getSavedClipsV2"))
        for text, channel in (("", "C1"), ("subscribe", "C9"), ("help", "C1")):
            ack = bot.command(text, channel=channel, user=user)
            assert (ack.status, ack.body) == (200, "")
            assert bot.next_response() == REFUSED
        bot.settled()
        assert (world.store.subscription("C9"), world.slack.posts("C9")) == (None, [])
        assert len(world.rhombus.calls("getSavedClipsV2")) == listed
        assert len(world.slack.responses) == 3

    @pytest.mark.parametrize(
        "action", ["clip_claim", "clip_share", "clip_resolve", "clip_video", "clips_more"]
    )
    def test_card_buttons(self, bot: Bot, world: World, action: str) -> None:
        """Every button from a guest: an ephemeral refusal, nothing changes or is listed."""
        listed = len(world.rhombus.calls("getSavedClipsV2"))
        bot.press(action, "A", user="UGUEST", ts=card(world).ts, block_id="triage:0")
        assert bot.next_response() == REFUSED
        bot.settled()
        assert untouched(world)
        assert world.slack.called("views.open") == []
        assert len(world.rhombus.calls("getSavedClipsV2")) == listed

    def test_note_modal_submission(self, bot: Bot, world: World) -> None:
        """A note submitted by a guest (a forged modal): the modal closes, the refusal comes as
        an ephemeral message in the card's channel, and nothing changes."""
        meta = json.dumps({"c": "A", "ch": "C1", "a": "resolve", "v": 0})
        ack = bot.submit_note(meta, "done", user="USINGLE")
        assert (ack.status, ack.body) == (200, "")
        (told,) = eventually(lambda: world.slack.called("chat.postEphemeral"))
        assert (told["channel"], told["user"], told["text"]) == ("C1", "USINGLE", GUEST_REFUSAL)
        bot.settled()
        assert untouched(world)

    @pytest.mark.parametrize("meta", ["not json", '{"c": "A"}', "[1, 2]"])
    def test_note_form_naming_no_channel(self, bot: Bot, world: World, meta: str) -> None:
        """A guest's note form whose metadata names no card's channel is refused in a small
        modal opened with the submission's trigger_id (there is nowhere else to say it)."""
        bot.submit_note(meta, "done", user="UGUEST")
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        assert opened["trigger_id"].startswith("trigger-")
        assert opened["view"] == notice(GUEST_REFUSAL)
        bot.settled()
        assert untouched(world) and world.slack.called("chat.postEphemeral") == []

    def test_note_form_where_slack_refuses_the_ephemeral(self, bot: Bot, world: World) -> None:
        """The card's channel was archived since (chat.postEphemeral answers is_archived):
        the guest is refused in a modal instead."""
        world.slack.channel("C1", is_archived=True)
        meta = json.dumps({"c": "A", "ch": "C1", "a": "resolve", "v": 0})
        bot.submit_note(meta, "done", user="UGUEST")
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        assert opened["view"] == notice(GUEST_REFUSAL)
        bot.settled()
        assert untouched(world) and world.slack.ephemerals == []

    def test_home_tab(self, bot: Bot, world: World) -> None:
        """A guest's Home tab says no and shows no clips."""
        listed = len(world.rhombus.calls("getSavedClipsV2"))
        bot.home_opened(user="UGUEST")
        (published,) = eventually(lambda: world.slack.called("views.publish"))
        assert (published["user_id"], published["view"]["blocks"]) == (
            "UGUEST",
            [{"type": "section", "text": {"type": "mrkdwn", "text": GUEST_REFUSAL}}],
        )
        assert len(world.rhombus.calls("getSavedClipsV2")) == listed

    def test_members_go_ahead(self, bot: Bot, world: World) -> None:
        """A full member's press acts, after one users.info lookup."""
        bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        assert world.store.card("A", "C1").owner == "U2"  # type: ignore[union-attr]
        assert [c["user"] for c in world.slack.called("users.info")] == ["U2"]


class TestLookupFails:
    def test_missing_scope_refuses_and_says_so(self, bot: Bot, world: World) -> None:
        """Without users:read, clipbot refuses rather than allows, naming Slack's error."""
        world.slack.users.scope_granted = False
        bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
        assert bot.next_response()["text"] == (
            "clipbot could not check your Slack account just now (missing_scope), so it is not "
            "going ahead. Please try again in a minute."
        )
        assert untouched(world)

    def test_unknown_user_is_refused(self, bot: Bot) -> None:
        """A user Slack does not know (user_not_found) is refused."""
        bot.world.slack.users.remove("UGONE")
        bot.command("status", user="UGONE")
        assert "(user_not_found)" in bot.next_response()["text"]

    def test_failure_is_not_remembered(self, bot: Bot, world: World) -> None:
        """After a failed lookup (Slack down), the next press asks again and goes ahead."""
        world.slack.fail("users.info", Reply(503, b"upstream down"))
        bot.command("status", user="U2")
        assert bot.next_response()["text"].startswith("clipbot could not check your Slack account")
        bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        assert len(world.slack.called("users.info")) == 2


def test_lookups_are_cached_for_a_while(world: World) -> None:
    """One users.info per user per five minutes; after that Slack is asked again."""
    now = [0.0]
    guests = Guests(ttl_s=300, clock=lambda: now[0])
    assert [guests.refusal(world.poster, u) for u in ("U1", "U1", "UGUEST", "UGUEST")] == [
        None,
        None,
        GUEST_REFUSAL,
        GUEST_REFUSAL,
    ]
    assert [c["user"] for c in world.slack.called("users.info")] == ["U1", "UGUEST"]
    world.slack.users.people.pop("UGUEST")  # made a full member
    now[0] = 299.0
    assert guests.refusal(world.poster, "UGUEST") == GUEST_REFUSAL
    now[0] = 301.0
    assert guests.refusal(world.poster, "UGUEST") is None
    assert len(world.slack.called("users.info")) == 3


def test_a_request_naming_no_user_is_refused(bot: Bot, world: World) -> None:
    """A command or press that names no user (Slack always names one) is refused like a
    failed lookup, not waved through unchecked: no status, no claim."""
    bot.command("status", user="")
    assert bot.next_response() == {
        "text": NO_USER,
        "response_type": "ephemeral",
        "replace_original": False,
    }
    bot.press("clip_claim", "A", user="", ts=card(world).ts, block_id="triage:0")
    bot.settled()
    assert untouched(world)
    assert world.slack.called("users.info") == []
