"""Delivery: lost answers are settled, never re-sent blindly; refusing channels are marked broken."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clipbot import plan, triage, wiring
from clipbot.config import Settings
from clipbot.notify import SlackPoster
from clipbot.status import health_lines
from clipbot.store import SqliteStore
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.test_poller import Crash, crash_on
from tests.world import T0, World


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", digest_threshold=3)
    yield w
    w.close()


def replies_in(world: World, channel: str = "C1") -> list[str]:
    (card,) = world.slack.posts(channel)
    return [m.text for m in world.slack.replies(channel, card.ts)]


class TestLostAnswers:
    def test_configured_client_never_resends_a_post(
        self, env: dict[str, str], slack: FakeSlack
    ) -> None:
        """The WebClient clipbot runs with does not re-send chat.postMessage after a lost
        answer (it used to, through ConnectionErrorRetryHandler: two cards)."""
        poster = SlackPoster(wiring.slack_client(Settings.from_env(env)), pace_seconds=0)
        slack.lose_answers("chat.postMessage")
        with pytest.raises(OSError):
            poster.post("C1", {"text": "hello", "blocks": []})
        assert [m.text for m in slack.posts("C1")] == ["hello"]

    def test_configured_client_resends_reads(self, env: dict[str, str], slack: FakeSlack) -> None:
        """A read whose answer was lost is simply asked again."""
        client = wiring.slack_client(Settings.from_env(env))
        slack.lose_answers("auth.test")
        assert client.auth_test()["user_id"] == "UBOT"
        assert len(slack.called("auth.test")) == 2

    @pytest.mark.parametrize("clips", [2, 5], ids=["cards", "digest"])
    def test_lost_post_is_looked_up_not_resent(self, world: World, clips: int) -> None:
        """A card or digest whose answer was lost is in doubt, found in the history next
        cycle, and confirmed: every clip reaches the channel once."""
        world.subscribe("C1")
        world.rhombus.add(*(clip(f"K{i}", T0 + i) for i in range(clips)))
        world.slack.lose_answers("chat.postMessage")
        first = world.poller.poll_once()
        doubt = [c.clip.uuid for c in world.store.in_doubt()]
        assert (first.posted, doubt) == (0, ["K0"] if clips == 2 else [f"K{i}" for i in range(5)])
        world.poller.poll_once()
        assert world.posted_uuids("C1") == [f"K{i}" for i in range(clips)]
        assert world.store.in_doubt() == []
        assert len(world.slack.called("conversations.history")) == 1

    def test_a_large_digest_is_found_by_its_key(self, world: World) -> None:
        """A 300-clip digest's metadata is its key and count, not 300 uuids (which the fake,
        like Slack, refuses as too large); its answer lost, it is found by that key and its
        clips are confirmed together: one message, each clip once."""
        world.subscribe("C1")
        uuids = [f"CLIP{i:04d}{'x' * 18}" for i in range(300)]  # Rhombus-sized uuids
        world.rhombus.add(*(clip(uuid, T0 + i) for i, uuid in enumerate(uuids)))
        world.slack.lose_answers("chat.postMessage")
        world.poller.poll_once()
        assert len(world.store.in_doubt()) == 300
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        assert digest.metadata == {
            "event_type": "clipbot_digest",
            "event_payload": {"digest": uuids[0], "clip_count": 300},
        }
        assert (world.store.in_doubt(), world.posted_uuids("C1")) == ([], uuids)
        assert {c.ts for c in world.store.cards("C1")} == {digest.ts}

    def test_a_digest_an_older_release_left_in_doubt_is_found_by_its_uuids(
        self, world: World
    ) -> None:
        """A digest in doubt across an upgrade (its clips stored with no key, its metadata
        listing their uuids, as before) is still found and confirmed, not posted again."""
        world.subscribe("C1")
        world.rhombus.add(*(clip(f"K{i}", T0 + i) for i in range(5)))
        world.slack.lose_answers("chat.postMessage")
        world.poller.poll_once()
        (digest,) = world.slack.posts("C1")
        digest.metadata = {  # what the older release sent
            "event_type": "clipbot_digest",
            "event_payload": {"clip_uuids": [f"K{i}" for i in range(5)]},
        }
        with sqlite3.connect(world.path) as db:
            db.execute("UPDATE cards SET digest_of = NULL")
        world.poller.poll_once()
        assert (len(world.slack.posts("C1")), world.store.in_doubt()) == (1, [])
        assert {c.ts for c in world.store.cards("C1")} == {digest.ts}

    def test_digest_found_after_a_crash_mid_confirm(self, world: World) -> None:
        """A digest in doubt, found in the history, is confirmed for all its clips at once: a
        crash in between cannot leave half of it to be posted again."""
        world.subscribe("C1")
        world.rhombus.add(*(clip(f"K{i}", T0 + i) for i in range(5)))
        world.slack.lose_answers("chat.postMessage")
        world.poller.poll_once()
        crash_on(world.store, "confirm", 1, after=True)
        with pytest.raises(Crash):
            world.poller.poll_once()
        world.restart()
        world.poller.poll_once()
        assert (len(world.slack.posts("C1")), world.store.in_doubt()) == (1, [])
        assert world.posted_uuids("C1") == [f"K{i}" for i in range(5)]

    def test_post_that_never_arrived_is_sent_again(self, world: World) -> None:
        """A connection that failed before Slack acted: the history shows nothing, so the card
        goes again, once."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.fail("chat.postMessage", Reply(drop=True))
        world.poller.poll_once()
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]


@pytest.fixture
def triaged(world: World) -> World:
    world.subscribe("C1")
    world.rhombus.add(clip("A", T0 + 1))
    world.poller.poll_once()
    return world


class TestLostThreadReplies:
    def test_press_line_once(self, triaged: World) -> None:
        """A triage line whose answer was lost is found in the thread, not posted again."""
        world, bot = triaged, Bot(triaged)
        world.slack.lose_answers("chat.postMessage")
        (card,) = world.slack.posts("C1")
        bot.press("clip_claim", "A", user="U2", ts=card.ts, block_id="triage:0")
        eventually(lambda: card.edits == 1 and replies_in(world))
        bot.settled()  # the press's own work has given the line up as in doubt
        assert [r.key for r in world.store.replies_in_doubt()] == ["press:C1:A:1"]
        world.poller.poll_once()
        assert world.store.replies_in_doubt() == []
        assert len(replies_in(world)) == 1
        assert replies_in(world)[0].startswith("<@U2> claimed this clip")

    def test_line_that_never_arrived_is_sent_again(self, triaged: World) -> None:
        """A triage line lost before Slack acted is sent again when the thread lacks it."""
        world, bot = triaged, Bot(triaged)
        world.slack.fail("chat.postMessage", Reply(drop=True))
        (card,) = world.slack.posts("C1")
        bot.press("clip_claim", "A", user="U2", ts=card.ts, block_id="triage:0")
        eventually(lambda: card.edits == 1 and world.store.replies_in_doubt())
        bot.settled()  # the press's own work has given the line up as in doubt
        assert replies_in(world) == []
        world.poller.poll_once()
        world.poller.poll_once()
        assert len(replies_in(world)) == 1

    def test_line_in_flight_is_not_settled(self, triaged: World) -> None:
        """A poll cycle's settle that runs while a press's line is being posted (the poster
        pacing the channel, say) leaves that line alone: it is in flight, not in doubt."""
        world = triaged
        poller = world.poller

        class SettlingMidPost(SlackPoster):
            def reply(self, *args: Any, **kwargs: Any) -> str:
                poller.poll_once()  # the leader's cycle, while this line is on its way
                return super().reply(*args, **kwargs)

        world.poster = SettlingMidPost(world.web)
        bot = Bot(world)
        (card,) = world.slack.posts("C1")
        bot.press("clip_claim", "A", user="U2", ts=card.ts, block_id="triage:0")
        eventually(lambda: card.edits == 1 and world.store.reply_posted("press:C1:A:1"))
        world.poller.poll_once()
        assert [r[:30] for r in replies_in(world)] == ["<@U2> claimed this clip · <!da"]
        assert world.store.replies_in_doubt() == []

    def test_reminder_once(self, triaged: World) -> None:
        """A reminder whose answer was lost is settled, never sent twice."""
        world = triaged
        world.now[0] += 31 * 60_000
        world.slack.lose_answers("chat.postMessage")
        sent = triage.remind_unclaimed(
            world.store, world.poster, minutes=30, now_ms=lambda: world.now[0]
        )
        assert sent == 0
        world.poller.poll_once()
        assert [t[:40] for t in replies_in(world)] == [":bell: Still unclaimed after 30 minutes."]
        triage.remind_unclaimed(world.store, world.poster, minutes=30, now_ms=lambda: world.now[0])
        assert world.store.reminders_due(world.now[0]) == []  # settled: now recorded as sent

    def test_share_link_once(self, triaged: World) -> None:
        """A share-link line whose answer was lost appears once."""
        world, bot = triaged, Bot(triaged)
        world.slack.lose_answers("chat.postMessage")
        (card,) = world.slack.posts("C1")
        bot.press("clip_share", "A", user="U2", ts=card.ts)
        eventually(lambda: replies_in(world))
        world.poller.poll_once()
        world.poller.poll_once()
        (line,) = replies_in(world)
        assert line.startswith("<@U2> shared a link to this clip")


class TestRefusingChannel:
    @pytest.mark.parametrize("error", ["restricted_action", "no_permission", "team_not_found"])
    def test_marked_broken_after_bounded_tries(self, world: World, error: str) -> None:
        """Any refusal, not just the known codes: BROKEN_AFTER cycles in a row, then broken;
        the other channel gets every clip and the window read per cycle stays bounded."""
        world.digest_threshold = 100
        world.restart()
        world.slack.channel("CREF", error=error)
        world.subscribe("C1")
        world.subscribe("CREF")
        windows = []
        for i in range(8):
            world.rhombus.add(clip(f"K{i}", T0 + i * 600_000))
            windows.append(world.poller.poll_once().window_ms)
        assert world.posted_uuids("C1") == [f"K{i}" for i in range(8)]
        refused = world.store.subscription("CREF")
        assert refused is not None and (refused.broken, refused.failures) == (error, 5)
        tries = [c for c in world.slack.called("chat.postMessage") if c["channel"] == "CREF"]
        assert len(tries) == 5
        # Held by CREF for its five tries, then back to a look-back behind the newest clip.
        assert windows[5:] == [T0 + i * 600_000 - plan.LOOKBACK_MS for i in (4, 5, 6)]
        lines = health_lines(world.store.health(0), world.now[0], 30)
        fix = "subscribe it again once Slack lets clipbot post there"
        assert f":warning: <#CREF> is broken ({error}): {fix}" in lines

    def test_refusals_must_be_in_a_row(self, world: World) -> None:
        """A channel that takes a post between refusals is not marked broken."""
        world.subscribe("C1")
        for i in range(8):
            world.rhombus.add(clip(f"K{i}", T0 + i))
            if i % 4 != 3:
                world.slack.fail(
                    "chat.postMessage", Reply.json({"ok": False, "error": "restricted_action"})
                )
            world.poller.poll_once()
        sub = world.store.subscription("C1")
        assert sub is not None and sub.broken is None
        assert world.posted_uuids("C1") == [f"K{i}" for i in range(8)]

    def test_slack_trouble_is_not_a_refusal(self, world: World) -> None:
        """Slack's own errors (ratelimited, internal_error, 5xx) never mark a channel broken."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        for _ in range(7):
            world.slack.fail(
                "chat.postMessage",
                Reply.json({"ok": False, "error": "internal_error"}),
            )
            world.poller.poll_once()
        world.poller.poll_once()
        sub = world.store.subscription("C1")
        assert sub is not None and (sub.broken, sub.failures) == (None, 0)
        assert world.posted_uuids("C1") == ["A"]


class TestHealth:
    def test_error_then_success_in_one_millisecond(self, tmp_path: Path) -> None:
        """Health follows the order cycles ended in, not their timestamps."""
        store = SqliteStore(str(tmp_path / "s.db"))
        store.record_error(T0, "Boom")
        store.record_success(T0)
        assert health_lines(store.health(0), T0, 30)[0] == "*:large_green_circle: Healthy*"
        store.record_error(T0, "Boom")
        store.record_error(T0, "Boom")
        health = store.health(0)
        assert (health.failing, health.consecutive_failures) == (True, 2)
        assert health_lines(health, T0, 30)[:3] == [
            "*:red_circle: Not healthy*",
            "Last successful poll: <!date^1764000000^{date_short_pretty} at {time}|2025-11-24 16:00 UTC> (0m ago)",
            "The last 2 polls failed",
        ]
        store.close()

    def test_not_healthy_says_why_without_a_failure(self, tmp_path: Path) -> None:
        """A good poll older than 3 intervals with no failure since (a long cycle still running,
        or a stopped poller) is not healthy, and status says why instead of a bare verdict."""
        store = SqliteStore(str(tmp_path / "s.db"))
        store.record_success(T0)
        assert health_lines(store.health(0), T0 + 100_000, 30)[:3] == [
            "*:red_circle: Not healthy*",
            "Last successful poll: <!date^1764000000^{date_short_pretty} at {time}|2025-11-24 16:00 UTC> (1m ago)",
            "No poll has succeeded within 3 poll intervals (polls are due every 30s):"
            " a poll cycle is still running, or the poller has stopped",
        ]
        store.close()

    def test_a_cycle_still_delivering_is_alive(self, tmp_path: Path) -> None:
        """A cycle draining a backlog past 3 intervals, still posting cards, reads as healthy and
        says so; once its cards stop for as long, it does not."""
        store = SqliteStore(str(tmp_path / "s.db"))
        store.record_success(T0)
        store.record_progress(T0 + 95_000)
        assert health_lines(store.health(0), T0 + 100_000, 30)[:3] == [
            "*:large_green_circle: Healthy*",
            "Last successful poll: <!date^1764000000^{date_short_pretty} at {time}|2025-11-24 16:00 UTC> (1m ago)",
            "A poll cycle is still delivering: the last card went out 0m ago",
        ]
        assert health_lines(store.health(0), T0 + 186_000, 30)[0] == "*:red_circle: Not healthy*"
        store.close()

    def test_delivery_is_written_down_as_cards_go_out(self, world: World) -> None:
        """Delivering writes down when a card went out, by itself, not when the cycle ends: a
        cycle whose second post fails still leaves the first one's time for healthcheck."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2))
        world.slack.fail(
            "chat.postMessage",
            Reply.json({"ok": True, "channel": "C1", "ts": "1.000001", "message": {}}),
            Reply.json({"ok": False, "error": "internal_error"}),
        )
        world.poller.poll_once()
        health = world.store.health(0)
        assert (health.failing, health.last_success_ms, health.last_progress_ms) == (
            True,
            None,
            world.now[0],
        )

    def test_failed_posting_is_a_failed_cycle(self, world: World) -> None:
        """A cycle whose posting failed is recorded as failed, and the next good one recovers."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "internal_error"}))
        world.poller.poll_once()
        failed = world.store.health(0)
        assert (failed.failing, failed.last_error) == (
            True,
            "Slack posting to C1 failed: internal_error",
        )
        world.poller.poll_once()
        assert world.store.health(0).failing is False

    def test_odd_records_are_counted_once_and_shown(self, world: World) -> None:
        """Odd feed records set aside by the client are added up in the health record (each
        once, however often it is read) and /clips status shows the total."""
        world.subscribe("C1")
        no_time = clip("ODD", T0 + 2)
        no_time["createdAtMs"], no_time["_filedAtMs"] = None, T0 + 2
        world.rhombus.add(clip("A", T0 + 1), no_time)
        world.poller.poll_once()
        world.poller.poll_once()
        health = world.store.health(0)
        assert (health.skipped_records, world.posted_uuids("C1")) == (1, ["A"])
        assert "Odd feed records skipped in all: 1" in health_lines(health, world.now[0], 30)
        world.restart()  # a new process reads the same odd record again: not a new one
        world.rhombus.add(clip("B", T0 + 3))
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A", "B"]
        assert world.store.health(0).skipped_records == 1
