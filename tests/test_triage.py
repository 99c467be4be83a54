"""Triage on clip cards through the real Bolt stack: every press, its card edit and thread line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot import triage
from clipbot.bot import build
from clipbot.config import Settings
from clipbot.slack.actions import NOT_A_CARD, NOTE_FORM_FAILED, UNKNOWN_CARD
from clipbot.slack.answering import notice
from clipbot.state import OPEN
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World

NOW = T0 + 3_600_000
WHEN = f"<!date^{NOW // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 17:00 UTC>"
SHORT = f"<!date^{NOW // 1000}^{{date_short_pretty}} {{time}}|2025-11-24 17:00 UTC>"


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    rhombus.add(clip("A", T0 + 1, title="Gate left open"))
    w.poller.poll_once()
    yield w
    w.close()


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world)


def card(world: World) -> Message:
    (message,) = world.slack.posts("C1")
    return message


def state_text(message: Message) -> str:
    context = next(b for b in message.blocks or [] if b["type"] == "context")
    return str(context["elements"][0]["text"])


def buttons(message: Message) -> list[str]:
    actions = next(b for b in message.blocks or [] if b["type"] == "actions")
    return [e["text"]["text"] for e in actions["elements"]]


def thread(world: World) -> list[str]:
    return [m.text for m in world.slack.replies("C1", card(world).ts)]


def press(bot: Bot, world: World, action: str, user: str, version: int = 0) -> None:
    bot.press(action, "A", user=user, ts=card(world).ts, block_id=f"triage:{version}")


def wait_edits(world: World, count: int) -> None:
    eventually(lambda: card(world).edits >= count and len(thread(world)) >= count)


class TestClaim:
    def test_claim(self, bot: Bot, world: World) -> None:
        """Claim stores the owner, edits the card to say so, and records it in the thread."""
        press(bot, world, "clip_claim", "U2")
        wait_edits(world, 1)
        assert state_text(card(world)) == f"Claimed by <@U2> · {SHORT}"
        assert buttons(card(world)) == ["Claim", "Resolve", "False alarm", "Share link"]
        assert thread(world) == [f"<@U2> claimed this clip · {WHEN}"]
        stored = world.store.card("A", "C1")
        assert (stored.state, stored.owner, stored.version) == ("claimed", "U2", 1)  # type: ignore[union-attr]
        assert [f"*{k}*" in str(card(world).blocks) for k in ("Camera", "Status", "Saved by")] == [
            True
        ] * 3

    def test_double_click(self, bot: Bot, world: World) -> None:
        """A second press by the same person changes nothing and tells them so."""
        press(bot, world, "clip_claim", "U2")
        wait_edits(world, 1)
        press(bot, world, "clip_claim", "U2")
        response = bot.next_response()
        assert (response["text"], response["response_type"]) == (
            "You have already claimed this clip.",
            "ephemeral",
        )
        assert (card(world).edits, len(thread(world))) == (1, 1)

    def test_concurrent_presses(self, bot: Bot, world: World) -> None:
        """Two people pressing Claim at once: one owner, one thread line, one polite refusal."""
        users = ["U2", "U3", "U4", "U5"]
        threads = [
            threading.Thread(target=press, args=(bot, world, "clip_claim", u)) for u in users
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refusals = [bot.next_response()["text"] for _ in range(3)]
        eventually(lambda: card(world).edits >= 1 and thread(world))  # the reply follows the edit
        owner = world.store.card("A", "C1").owner  # type: ignore[union-attr]
        assert (
            refusals == [f"Already claimed by <@{owner}>; press Claim again to take it over."] * 3
        )
        assert thread(world) == [f"<@{owner}> claimed this clip · {WHEN}"]
        assert [e.action for e in world.store.events("A", "C1")] == ["claim"]

    def test_takeover(self, bot: Bot, world: World) -> None:
        """Pressing Take over on a card claimed by someone else takes it, and says so."""
        press(bot, world, "clip_claim", "U2")
        wait_edits(world, 1)
        press(bot, world, "clip_claim", "U3", version=1)
        wait_edits(world, 2)
        assert state_text(card(world)) == f"Claimed by <@U3> · {SHORT}"
        assert thread(world)[-1] == f"<@U3> took this clip over from <@U2> · {WHEN}"


class TestResolve:
    def note_modal(self, world: World) -> dict[str, object]:
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        return opened["view"]  # type: ignore[no-any-return]

    def test_note_form_slack_would_not_open(self, bot: Bot, world: World) -> None:
        """views.open refused (expired_trigger_id: the press came too late): the presser is
        told nothing changed, instead of pressing into silence."""
        world.slack.fail("views.open", Reply.json({"ok": False, "error": "expired_trigger_id"}))
        press(bot, world, "clip_resolve", "U2")
        assert bot.next_response() == {
            "text": NOTE_FORM_FAILED,
            "response_type": "ephemeral",
            "replace_original": False,
        }
        assert (card(world).edits, world.store.card("A", "C1").state) == (0, OPEN)  # type: ignore[union-attr]

    def test_resolve_with_note_then_reopen(self, bot: Bot, world: World) -> None:
        """Resolve asks for a note; submitting resolves with it; Reopen brings the buttons back."""
        press(bot, world, "clip_resolve", "U2")
        modal = self.note_modal(world)
        assert (modal["callback_id"], json.loads(modal["private_metadata"])) == (  # type: ignore[arg-type]
            "triage_note",
            {"c": "A", "ch": "C1", "a": "resolve", "v": 0},
        )
        assert card(world).edits == 0
        bot.submit_note(modal["private_metadata"], "Raccoon <again> & gone", user="U2")  # type: ignore[arg-type]
        wait_edits(world, 1)
        assert (
            state_text(card(world))
            == f"Resolved by <@U2> · {SHORT}\n> Raccoon &lt;again&gt; &amp; gone"
        )
        assert buttons(card(world)) == ["Claim", "Reopen", "Share link"]
        assert thread(world) == [
            f"<@U2> resolved this clip · {WHEN}\n> Raccoon &lt;again&gt; &amp; gone"
        ]
        assert world.store.card("A", "C1").note == "Raccoon <again> & gone"  # type: ignore[union-attr]
        press(bot, world, "clip_reopen", "U3", version=1)
        wait_edits(world, 2)
        assert state_text(card(world)) == "Unclaimed"
        assert buttons(card(world)) == ["Claim", "Resolve", "False alarm", "Share link"]
        assert thread(world)[-1] == f"<@U3> reopened this clip · {WHEN}"

    def test_false_alarm_without_note(self, bot: Bot, world: World) -> None:
        """False alarm submitted with no note is fine."""
        press(bot, world, "clip_false_alarm", "U2")
        bot.submit_note(self.note_modal(world)["private_metadata"], None, user="U2")  # type: ignore[arg-type]
        wait_edits(world, 1)
        assert state_text(card(world)) == f"False alarm — <@U2> · {SHORT}"
        assert thread(world) == [f"<@U2> marked this clip a false alarm · {WHEN}"]

    def test_resolving_twice(self, bot: Bot, world: World) -> None:
        """A second resolve of a resolved clip is refused with who did it."""
        press(bot, world, "clip_resolve", "U2")
        bot.submit_note(self.note_modal(world)["private_metadata"], None, user="U2")  # type: ignore[arg-type]
        wait_edits(world, 1)
        press(bot, world, "clip_false_alarm", "U3")
        assert (
            bot.next_response()["text"]
            == "This clip was already resolved by <@U2>. Press Reopen first."
        )

    def test_unreadable_note_form(self, bot: Bot, world: World) -> None:
        """A note form clipbot cannot read (not its metadata) changes nothing and says so, in a
        modal opened with the submission's trigger_id (it names no channel to answer in)."""
        bot.submit_note("{}", "done", user="U2")
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        assert opened["view"] == notice(
            "clipbot could not read this note form (it is not one clipbot opened), so nothing "
            "was changed. Press Resolve or False alarm on the clip's card again."
        )
        bot.settled()
        assert (card(world).edits, thread(world)) == (0, [])

    def test_refused_note_in_a_channel_that_takes_no_message(self, bot: Bot, world: World) -> None:
        """A note refused (here: an unknown card) in a channel Slack takes no ephemeral in
        (archived since) is answered in a modal instead of being dropped."""
        world.slack.channel("CARCH", is_archived=True)
        meta = json.dumps({"c": "GONE", "ch": "CARCH", "a": "resolve", "v": 0})
        bot.submit_note(meta, "done", user="U2")
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        assert opened["view"] == notice(UNKNOWN_CARD)
        assert world.slack.ephemerals == []

    def test_claiming_a_resolved_clip_reopens_it(self, bot: Bot, world: World) -> None:
        """Claim on a resolved card reopens it as the presser's, and says so."""
        press(bot, world, "clip_resolve", "U2")
        bot.submit_note(self.note_modal(world)["private_metadata"], None, user="U2")  # type: ignore[arg-type]
        wait_edits(world, 1)
        press(bot, world, "clip_claim", "U3", version=1)
        wait_edits(world, 2)
        assert thread(world)[-1] == f"<@U3> reopened and claimed this clip · {WHEN}", (
            world.slack.responses
        )
        assert state_text(card(world)) == f"Claimed by <@U3> · {SHORT}"


class TestShare:
    def test_share_link(self, bot: Bot, world: World) -> None:
        """Share link creates a Rhombus shared clip with the configured expiry and posts it in the thread."""
        press(bot, world, "clip_share", "U2")
        eventually(lambda: thread(world))
        assert world.rhombus.shares == [
            {
                "title": "Gate left open",
                "description": "Shared from Slack by clipbot: Front Door",
                "expirationTimeSecs": 86400,
                "uuids": [{"eventUuid": "A"}],
            }
        ]
        expires = NOW + 86_400_000
        assert thread(world) == [
            "<@U2> shared a link to this clip (works without a Rhombus login, expires "
            f"<!date^{expires // 1000}^{{date_short_pretty}} at {{time}}|2025-11-25 17:00 UTC>): "
            "https://share.example.test/clips/share1"
        ]

    def test_share_failure(self, bot: Bot, world: World) -> None:
        """A Rhombus failure is told to the presser only; nothing goes in the thread."""
        world.rhombus.fail(
            "createSharedClipGroupV3", Reply.json({"error": True, "errorMsg": "Sharing disabled"})
        )
        press(bot, world, "clip_share", "U2")
        assert bot.next_response()["text"] == (
            ":warning: Could not create a share link: Rhombus event/createSharedClipGroupV3 failed: Sharing disabled. Press Share link again in a moment, or share it from the Rhombus console."
        )
        assert thread(world) == []

    def test_private_clip_is_not_shared(self, bot: Bot, world: World) -> None:
        """A private or role-restricted clip's card has no Share link button, before and after
        a press redraws it; a forged press is refused, and Rhombus is not asked."""
        world.subscribe("CPRIV", start_ms=T0 + 5, include_private=True)
        world.rhombus.add(clip("P", T0 + 9, visibility="PRIVATE"))
        world.rhombus.add(clip("R", T0 + 10, visibility="ROLE_RESTRICTED"))
        world.poller.poll_once()
        private_card, restricted_card = world.slack.posts("CPRIV")
        assert (
            buttons(private_card)
            == buttons(restricted_card)
            == [
                "Claim",
                "Resolve",
                "False alarm",
            ]
        )
        assert buttons(card(world)) == ["Claim", "Resolve", "False alarm", "Share link"]
        bot.press("clip_claim", "P", channel="CPRIV", user="U2", ts=private_card.ts)
        eventually(lambda: private_card.edits == 1)
        assert buttons(private_card) == ["Claim", "Resolve", "False alarm"]
        bot.press("clip_share", "P", channel="CPRIV", user="U2", ts=private_card.ts)
        assert bot.next_response()["text"] == (
            "This clip is private or role-restricted in Rhombus, so clipbot will not make a link "
            "that works without a login. Share it from the Rhombus console if you are allowed to."
        )
        lines = [m.text for m in world.slack.replies("CPRIV", private_card.ts)]
        assert (world.rhombus.shares, len(lines)) == ([], 1)  # the claim's line, no link


class TestOpenAndRestart:
    def test_open_before_and_after(self, bot: Bot, world: World) -> None:
        """/clips open lists unresolved cards with state, owner, age and permalink; resolved ones leave."""
        world.rhombus.add(clip("B", T0 + 2, title="Dock door"))
        world.poller.poll_once()
        first, second = world.slack.posts("C1")
        bot.command("open")
        assert bot.next_response()["blocks"][0]["text"]["text"].splitlines() == [
            f"• *<https://test.slack.com/archives/C1/p{first.ts.replace('.', '')}|Gate left open>* — Unclaimed — posted 0m ago",
            f"• *<https://test.slack.com/archives/C1/p{second.ts.replace('.', '')}|Dock door>* — Unclaimed — posted 0m ago",
        ]
        bot.press("clip_claim", "B", user="U2", ts=second.ts, block_id="triage:0")
        bot.press("clip_resolve", "A", user="U2", ts=first.ts, block_id="triage:0")
        (opened,) = eventually(lambda: world.slack.called("views.open"))
        bot.submit_note(opened["view"]["private_metadata"], None, user="U2")
        eventually(lambda: world.store.card("A", "C1").state == "resolved")  # type: ignore[union-attr]
        world.now[0] += 45 * 60_000
        bot.command("open")
        assert bot.next_response()["blocks"][0]["text"]["text"].splitlines() == [
            f"• *<https://test.slack.com/archives/C1/p{second.ts.replace('.', '')}|Dock door>* — Claimed by <@U2> · {SHORT} — posted 45m ago",
        ]

    def test_state_survives_restart(self, bot: Bot, world: World) -> None:
        """After a restart the store still knows the owner, and the next press builds on it."""
        press(bot, world, "clip_claim", "U2")
        wait_edits(world, 1)
        world.restart()
        bot = Bot(world)
        press(bot, world, "clip_claim", "U2", version=1)
        assert bot.next_response()["text"] == "You have already claimed this clip."

    def test_rhombus_status_change_keeps_triage(self, bot: Bot, world: World) -> None:
        """A card edited for a finished clip still shows who claimed it."""
        world.rhombus.add(clip("R", T0 + 5, status="RENDERING", title="Rendering"))
        world.poller.poll_once()
        rendering = world.slack.posts("C1")[1]
        bot.press("clip_claim", "R", user="U2", ts=rendering.ts, block_id="triage:0")
        eventually(lambda: rendering.edits == 1 and world.slack.replies("C1", rendering.ts))
        world.rhombus.update("R", status="COMPLETE")
        world.poller.poll_once()
        assert rendering.edits == 2
        context = next(b for b in rendering.blocks or [] if b["type"] == "context")
        assert context["elements"][0]["text"] == f"Claimed by <@U2> · {SHORT}"
        assert {"type": "mrkdwn", "text": "*Status*\nComplete"} in rendering.blocks[1]["fields"]  # type: ignore[index]


def test_open_with_only_a_digest_does_not_say_all_is_resolved(
    rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
) -> None:
    """/clips open lists cards only; a channel whose clips came in a digest (unclaimed, and
    counted open by /clips report) is not told that everything posted there is resolved."""
    world = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=1)
    try:
        world.subscribe("C1")
        rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        world.poller.poll_once()
        bot = Bot(world)
        bot.command("open")
        assert bot.next_response() == {
            "text": "No open clip cards in this channel.",
            "response_type": "ephemeral",
        }
    finally:
        world.close()


def test_card_whose_edit_failed_is_drawn_again(bot: Bot, world: World) -> None:
    """A press whose chat.update Slack refuses (500) leaves the card showing its old state;
    the next poll cycle draws it again from the store, once."""
    world.slack.fail("chat.update", Reply.json({"ok": False, "error": "internal_error"}, 500))
    press(bot, world, "clip_claim", "U2")
    eventually(lambda: world.store.reply_posted("press:C1:A:1"))
    assert (card(world).edits, state_text(card(world))) == (0, "Unclaimed")
    world.poller.poll_once()
    assert (card(world).edits, state_text(card(world))) == (1, f"Claimed by <@U2> · {SHORT}")
    assert buttons(card(world)) == ["Claim", "Resolve", "False alarm", "Share link"]
    world.poller.poll_once()
    assert card(world).edits == 1


def test_press_on_unknown_card(bot: Bot, world: World) -> None:
    """A button on a card clipbot has no record of gets a short explanation, nothing else."""
    bot.press("clip_claim", "NOPE", user="U2", ts="1700000000.999999", block_id="triage:0")
    assert (
        bot.next_response()["text"]
        == "clipbot has no record of this card any more, so its buttons do nothing. "
        "Find the clip with `/clips`, or open it in the Rhombus console from the card's title."
    )
    assert world.slack.called("chat.update") == []


@pytest.mark.parametrize("action", ["clip_claim", "clip_resolve", "clip_share", "clip_video"])
def test_press_naming_a_digest_clip_changes_nothing(
    rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path, action: str
) -> None:
    """A digest has no buttons: a press naming one of its clips (forged, or from an old
    client) is refused, and neither the store nor the digest's thread changes."""
    world = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=1)
    try:
        world.subscribe("C1")
        rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        bot = Bot(world)
        bot.press(action, "A", user="U2", ts=digest.ts, block_id="triage:0")
        assert bot.next_response()["text"] == NOT_A_CARD
        stored = world.store.card("A", "C1")
        assert stored is not None and (stored.state, stored.version) == (OPEN, 0)
        assert world.store.events("A", "C1") == []
        assert world.slack.replies("C1", digest.ts) == []
        assert world.slack.called("views.open") == []
        assert rhombus.shares == []
    finally:
        world.close()


class TestReminder:
    def test_reminded_once(self, bot: Bot, world: World) -> None:
        """An unclaimed clip gets one reminder after the wait, naming the subscriber; never twice."""

        def remind():
            return triage.remind_unclaimed(
                world.store, world.poster, minutes=30, now_ms=lambda: world.now[0]
            )

        assert remind() == 0
        world.now[0] += 31 * 60_000
        assert (remind(), remind()) == (1, 0)
        assert thread(world) == [
            ":bell: Still unclaimed after 30 minutes. <@UADMIN>, can someone take a look?"
        ]

    def test_one_minute_is_said_in_the_singular(self, bot: Bot, world: World) -> None:
        """CLIPBOT_REMIND_MINUTES=1: "after 1 minute", not "1 minutes"."""
        world.now[0] += 2 * 60_000
        assert (
            triage.remind_unclaimed(
                world.store, world.poster, minutes=1, now_ms=lambda: world.now[0]
            )
            == 1
        )
        assert thread(world) == [
            ":bell: Still unclaimed after 1 minute. <@UADMIN>, can someone take a look?"
        ]

    def test_refused_reminder_is_tried_again(self, bot: Bot, world: World) -> None:
        """A reminder Slack refuses is not recorded as sent: the next run sends it, once."""
        world.now[0] += 31 * 60_000
        world.slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "internal_error"}))
        remind = lambda: triage.remind_unclaimed(  # noqa: E731
            world.store, world.poster, minutes=30, now_ms=lambda: world.now[0]
        )
        assert (remind(), remind(), remind()) == (0, 1, 0)
        assert thread(world) == [
            ":bell: Still unclaimed after 30 minutes. <@UADMIN>, can someone take a look?"
        ]

    def test_runs_every_poll_interval(self, env: dict[str, str]) -> None:
        """The reminder job runs as often as the poll, so a reminder is at most one poll
        interval late (not a fixed minute on top)."""
        settings = Settings.from_env(
            {**env, "CLIPBOT_POLL_SECONDS": "5", "CLIPBOT_REMIND_MINUTES": "1"}
        )
        bot = build(settings)
        try:
            assert bot.scheduler.get_job("remind").trigger.interval.total_seconds() == 5
        finally:
            bot.close()

    def test_claimed_never_reminded(self, bot: Bot, world: World) -> None:
        """A claimed clip gets no reminder."""
        press(bot, world, "clip_claim", "U2")
        wait_edits(world, 1)
        world.now[0] += 60 * 60_000
        assert (
            triage.remind_unclaimed(
                world.store, world.poster, minutes=30, now_ms=lambda: world.now[0]
            )
            == 0
        )
        assert len(thread(world)) == 1
