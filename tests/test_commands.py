"""/clips through the real Bolt listener stack, against the fake Slack and Rhombus servers."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_bolt import BoltRequest

from clipbot.metrics import Metrics
from clipbot.records import Clip
from clipbot.replies import USAGE
from clipbot.state import Card, Subscription
from clipbot.store import StoreUnavailable
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import SIGNING_SECRET, FakeSlack
from tests.world import T0, World

NOW = T0 + 3_600_000


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", page_size=5)
    yield w
    w.close()


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world)


def lines(message: dict[str, object]) -> list[str]:
    """The text lines of a reply's section blocks."""
    out: list[str] = []
    for block in message.get("blocks") or []:  # type: ignore[attr-defined]
        if block["type"] == "section":
            out += block["text"]["text"].splitlines()
    return out


def titles(message: dict[str, object]) -> list[str]:
    return [
        line.split("|", 1)[1].split(">", 1)[0] for line in lines(message) if line.startswith("• *<")
    ]


class TestListing:
    def test_recent_default(self, bot: Bot, world: World) -> None:
        """`/clips` lists the ten newest clips, newest first, hides private ones and counts them."""
        world.rhombus.add(*(clip(f"C{i:02d}", NOW - 60_000 * (20 - i)) for i in range(15)))
        world.rhombus.add(clip("SECRET", NOW - 1000, visibility="PRIVATE"))
        ack = bot.command("")
        assert (ack.status, ack.body) == (200, "")
        reply = bot.next_response()
        assert titles(reply) == [f"Clip C{i:02d}" for i in range(14, 4, -1)]
        assert reply["blocks"][-2] == {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "1 private or role-restricted clip hidden."}],
        }
        assert reply["response_type"] == "ephemeral"
        first = lines(reply)[0]
        assert first == (
            "• *<https://console.example.test/devices/cameras/CAM0000000000000000001/?t="
            f"{NOW - 6 * 60_000 - 60_000}|Clip C14>* — Front Door — "
            f"<!date^{(NOW - 6 * 60_000) // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 16:54 UTC>"
            " — 30s — Complete"
        )

    def test_more_pages_back(self, bot: Bot, world: World) -> None:
        """More continues where the list stopped, replacing it, until nothing is left."""
        world.rhombus.add(*(clip(f"C{i:02d}", NOW - 60_000 * (20 - i)) for i in range(7)))
        world.rhombus.add(clip("TIE", NOW - 60_000 * 17))  # shares a timestamp with C03
        bot.command("3")
        first = bot.next_response()
        assert titles(first) == ["Clip C06", "Clip C05", "Clip C04"]
        seen = list(titles(first))
        for _ in range(3):
            more = first["blocks"][-1]["elements"][0]
            bot.press("clips_more", more["value"])
            first = bot.next_response()
            assert first["replace_original"] is True
            seen += titles(first)
            if first["blocks"][-1]["type"] != "actions":
                break
        assert sorted(seen) == sorted(
            [
                "Clip C06",
                "Clip C05",
                "Clip C04",
                "Clip C03",
                "Clip TIE",
                "Clip C02",
                "Clip C01",
                "Clip C00",
            ]
        )
        assert len(seen) == len(set(seen))

    def test_filters(self, bot: Bot, world: World) -> None:
        """camera:, since:, status: and free words narrow the list."""
        world.rhombus.add(
            clip(
                "OLD",
                NOW - 48 * 3_600_000,
                title="Forklift at dawn",
                cameras=("CAM0000000000000000002",),
            ),
            clip(
                "DOCK",
                NOW - 60_000,
                title="Forklift reversing",
                cameras=("CAM0000000000000000002",),
            ),
            clip("FRONT", NOW - 30_000, title="Forklift outside"),
            clip(
                "FAILED",
                NOW - 10_000,
                title="Forklift crash",
                status="FAILED",
                cameras=("CAM0000000000000000002",),
            ),
        )
        bot.command('camera:"loading" since:24h status:complete FORKLIFT')
        assert titles(bot.next_response()) == ["Forklift reversing"]
        bot.command("camera:dock")
        assert titles(bot.next_response()) == [
            "Forklift crash",
            "Forklift reversing",
            "Forklift at dawn",
        ]

    def test_no_match(self, bot: Bot, world: World) -> None:
        """A filter that matches nothing says so and suggests a wider one."""
        world.rhombus.add(clip("A", NOW - 1000))
        bot.command("camera:attic")
        assert lines(bot.next_response()) == [
            "No clips match `camera:attic`. Try a wider filter, like `since:7d`, or fewer words."
        ]

    def test_html_escaped_text(self, bot: Bot, world: World) -> None:
        """Slack sends `&amp;` for `&`: the words are read as typed and echoed escaped once."""
        world.rhombus.add(clip("RD", NOW - 1000, title="R&D lab door"), clip("X", NOW - 2000))
        bot.command("R&amp;D")
        assert titles(bot.next_response()) == ["R&amp;D lab door"]
        bot.command("nothing&amp;here &lt;b&gt;")
        assert lines(bot.next_response()) == [
            "No clips match `nothing&amp;here &lt;b&gt;`. Try a wider filter, like `since:7d`, or fewer words."
        ]
        bot.command("status:R&amp;D")
        assert bot.next_response()["text"].startswith(
            ":warning: `status:R&amp;D` is not a clip status"
        )

    def test_scan_is_bounded(self, bot: Bot, world: World) -> None:
        """A narrow filter stops after a bounded scan and says how far it looked."""
        world.rhombus.add(*(clip(f"C{i:03d}", NOW - 1000 * i) for i in range(520)))
        bot.command("nothing-matches-this")
        reply = bot.next_response()
        assert lines(reply) == [
            "No clips match `nothing-matches-this` in the last 500 clips. Try a wider filter, like `since:7d`, or fewer words."
        ]
        assert reply["blocks"][-1]["elements"][0]["action_id"] == "clips_more"

    def test_rhombus_failure(self, bot: Bot, world: World) -> None:
        """A Rhombus error becomes a short message, not a trace."""
        world.rhombus.fail(
            "getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Org suspended"})
        )
        bot.command("")
        assert bot.next_response()["text"] == (
            ":warning: Could not list clips: Rhombus event/getSavedClipsV2 failed: Org suspended. Try again in a moment; if it keeps failing, ask whoever runs clipbot to run `clipbot check`."
        )

    def test_slow_rhombus_still_acks_at_once(self, bot: Bot, world: World) -> None:
        """The command is acknowledged before Rhombus answers; the list follows via response_url."""
        world.rhombus.add(clip("A", NOW - 1000))
        world.rhombus.fail(
            "getSavedClipsV2",
            Reply(
                200,
                json.dumps({"savedClips": [clip("A", NOW - 1000)]}).encode(),
                {"Content-Type": "application/json"},
                delay=1.5,
            ),
        )
        ack = bot.command("")
        assert (ack.status, world.slack.responses) == (200, [])
        assert titles(bot.next_response()) == ["Clip A"]


class TestAnswersEverything:
    def test_parse_error(self, bot: Bot) -> None:
        """A malformed command is acknowledged empty, like every command, and answered through
        its response_url: the problem, then the usage."""
        ack = bot.command("since:soon")
        assert (ack.status, ack.body) == (200, "")
        assert bot.next_response() == {
            "response_type": "ephemeral",
            "text": ":warning: `since:soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.\n\n"
            + USAGE,
        }

    def test_escapes_user_text(self, bot: Bot) -> None:
        """User text echoed in an error cannot inject mentions or links: typed `<!channel>`
        (escaped by Slack) comes back as text, and a real @channel as the plain word."""
        bot.command("status:&lt;!channel&gt;")
        assert bot.next_response()["text"].splitlines()[0] == (
            ":warning: `status:&lt;!channel&gt;` is not a clip status; use one of INITIATING, "
            "UPLOADING, RENDERING, COMPLETE, FAILED, OFFLINE, DELETED."
        )
        bot.command("status:<!channel>")
        assert (
            bot.next_response()["text"]
            .splitlines()[0]
            .startswith(":warning: `status:@channel` is not a clip status;")
        )

    def test_help(self, bot: Bot) -> None:
        """help answers with the usage."""
        bot.command("help")
        assert bot.next_response() == {"response_type": "ephemeral", "text": USAGE}


class TestSubscriptions:
    def test_subscribe(self, bot: Bot, world: World) -> None:
        """subscribe stores the channel's filters from the feed's newest clip and announces it."""
        world.rhombus.add(clip("A", NOW - 5000), clip("B", NOW - 1000), clip("B2", NOW - 1000))
        bot.command("subscribe camera:dock min:1m", channel="C7", user="U9")
        assert bot.next_response()["text"] == (
            "Subscribed <#C7> to new clips from cameras matching “dock”, at least 1m 00s long."
            " Clips saved before now are not posted."
        )
        assert world.store.subscription("C7") == Subscription(
            channel_id="C7",
            team_id="T0001",
            created_by="U9",
            created_at_ms=NOW,
            start_ms=NOW - 1000,
            start_uuids=("B", "B2"),
            camera="dock",
            min_duration_sec=60,
        )
        (announcement,) = world.slack.posts("C7")
        assert (
            announcement.text
            == "<@U9> subscribed this channel to new clips from cameras matching “dock”, at least 1m 00s long."
        )

    def test_subscribe_excludes_every_clip_tied_at_the_newest_instant(
        self,
        rhombus: FakeRhombus,
        slack: FakeSlack,
        tmp_path: Path,
        request: pytest.FixtureRequest,
    ) -> None:
        """However many clips share the newest createdAtMs, all are before the subscription."""
        world = World(rhombus, slack, tmp_path / "pages-of-100.db")
        request.addfinalizer(world.close)
        world.rhombus.add(
            clip("OLD", NOW - 5000), *(clip(f"T{i:02d}", NOW - 1000) for i in range(30))
        )
        bot = Bot(world)
        bot.command("subscribe", channel="C7", user="U9")
        assert bot.next_response()["text"].startswith("Subscribed <#C7> to new clips")
        sub = world.store.subscription("C7")
        assert sub is not None
        assert (sub.start_ms, sorted(sub.start_uuids)) == (
            NOW - 1000,
            [f"T{i:02d}" for i in range(30)],
        )

    def test_resubscribe_replaces(self, world: World) -> None:
        """Subscribing again replaces the channel's subscription and says so."""
        bot = Bot(world, admins=frozenset({"U1"}))
        bot.command("subscribe")
        bot.next_response()
        bot.command("subscribe private:yes")
        assert bot.next_response()["text"] == (
            "Subscribed <#C1> to new clips from all cameras, including private and role-restricted clips."
            " This replaces the earlier subscription (all cameras). Clips saved before now are not posted."
        )
        assert [s.include_private for s in world.store.subscriptions()] == [True]

    def test_admins_only(self, world: World) -> None:
        """With CLIPBOT_ADMINS set, others get a polite refusal naming who can."""
        bot = Bot(world, admins=frozenset({"UADMIN", "UBOSS"}))
        bot.command("subscribe", user="U1")
        assert (
            bot.next_response()["text"]
            == "Sorry, only <@UADMIN>, <@UBOSS> can change subscriptions here. Ask one of them to do it."
        )
        bot.command("unsubscribe", user="U1")
        bot.next_response()
        assert world.store.subscriptions() == []
        bot.command("subscribe", user="UBOSS")
        assert bot.next_response()["text"].startswith("Subscribed <#C1>")

    def test_channel_bot_cannot_post_to(self, bot: Bot, world: World) -> None:
        """A private channel without the bot gets an explanation of how to invite it."""
        world.slack.channel("GPRIV", error="channel_not_found")
        bot.command("subscribe", channel="GPRIV")
        assert bot.next_response()["text"] == (
            "I can't post in this channel yet. In a private channel, invite me first with "
            "`/invite @clipbot`, then subscribe again."
        )
        assert world.store.subscriptions() == []

    def test_archived_channel(self, bot: Bot, world: World) -> None:
        """An archived channel (Slack answers is_archived) is said to be archived, not to need
        an invitation; nothing is subscribed or posted."""
        world.slack.channel("CARCH", is_archived=True)
        bot.command("subscribe", channel="CARCH")
        assert bot.next_response()["text"] == (
            "This channel is archived, so nothing can be posted in it and nothing was "
            "subscribed. Unarchive it first, or subscribe another channel."
        )
        assert (world.store.subscriptions(), world.slack.posts("CARCH")) == ([], [])

    def test_rhombus_failure_subscribes_nothing(self, bot: Bot, world: World) -> None:
        """Rhombus failing while the feed's position is read: nothing subscribed, and what to do."""
        world.rhombus.fail(
            "getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Org suspended"})
        )
        bot.command("subscribe", channel="C7")
        assert bot.next_response()["text"] == (
            ":warning: Nothing was subscribed: could not reach Rhombus (Rhombus "
            "event/getSavedClipsV2 failed: Org suspended). Try again in a moment; if it keeps "
            "failing, ask whoever runs clipbot to run `clipbot check`."
        )
        assert (world.store.subscription("C7"), world.slack.posts("C7")) == (None, [])

    def test_public_channel_without_the_bot(self, bot: Bot, world: World) -> None:
        """not_in_channel (no chat:write.public, bot not a member) says to invite the bot."""
        world.slack.channel("COUT", error="not_in_channel")
        bot.command("subscribe", channel="COUT")
        assert bot.next_response()["text"] == (
            "I'm not a member of this channel, so I can't post in it yet. Invite me with "
            "`/invite @clipbot`, then subscribe again."
        )
        assert world.store.subscriptions() == []

    def test_dm(self, bot: Bot) -> None:
        """A direct message cannot be subscribed."""
        bot.command("subscribe", channel="D123")
        assert (
            bot.next_response()["text"]
            == "Subscriptions need a channel; a direct message can't be subscribed. Run "
            "`/clips subscribe` in the channel that should get the clips."
        )

    def test_unsubscribe_and_list(self, bot: Bot, world: World) -> None:
        """subscriptions lists channels; unsubscribe removes one, or says there was none."""
        bot.command("subscribe", channel="C1")
        bot.next_response()
        bot.command("subscribe camera:dock", channel="C2")
        bot.next_response()
        bot.command("subscriptions")
        assert lines(bot.next_response()) == [
            f"• <#C1> — all cameras — by <@U1>, <!date^{NOW // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 17:00 UTC>",
            f"• <#C2> — cameras matching “dock” — by <@U1>, <!date^{NOW // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 17:00 UTC>",
        ]
        bot.command("unsubscribe", channel="C1")
        assert bot.next_response()["text"] == "Unsubscribed <#C1> (all cameras)."
        bot.command("unsubscribe", channel="C1")
        assert (
            bot.next_response()["text"]
            == "This channel has no subscription, so there was nothing to remove. "
            "`/clips subscriptions` lists the channels that have one."
        )
        assert [s.channel_id for s in world.store.subscriptions()] == ["C2"]


class TestStatusAndHome:
    def test_posted_today_across_a_dst_change(
        self, bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ "Today" starts at local midnight with that night's offset: on the day New York
        moves its clocks forward, a card posted at 23:30 the evening before is not today's."""
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        monkeypatch.setattr(bot.deps, "zone", ZoneInfo("America/New_York"), raising=False)
        midnight = 1_772_946_000_000  # 2026-03-08 00:00 EST = 05:00 UTC; 15:00 is EDT
        world.now[0] = midnight + 14 * 3_600_000
        cards = [
            Card(clip=Clip(uuid, created_at_ms=at), channel_id="C1", posted_at_ms=at)
            for uuid, at in (("EVE", midnight - 30 * 60_000), ("DAY", midnight + 30 * 60_000))
        ]
        world.store.reserve(cards)
        for card in cards:
            world.store.confirm("C1", [card.clip.uuid], "1.0")
        try:
            bot.command("status")
            assert "Clips posted today: 1 (2 in all)" in bot.next_response()["text"].splitlines()
        finally:
            monkeypatch.undo()
            time.tzset()

    def test_status(self, bot: Bot, world: World) -> None:
        """status tells at a glance: healthy or not, last poll, last error, position, posted, broken."""
        world.subscribe("C1")
        world.subscribe("CGONE")
        world.slack.channel("CGONE", error="is_archived")
        world.rhombus.add(clip("A", T0 + 1000))
        world.poller.poll_once()
        bot.command("status")
        assert bot.next_response()["text"].splitlines() == [
            "*:large_green_circle: Healthy*",
            f"Last successful poll: <!date^{NOW // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 17:00 UTC> (0m ago)",
            f"Feed position (last seen clip): <!date^{(T0 + 1000) // 1000}^{{date_short_pretty}} at {{time}}|2025-11-24 16:00 UTC>",
            "Clips posted today: 1 (1 in all)",
            "Feed lag: 59m since the newest clip read",
            ":warning: <#CGONE> is broken (is_archived): the channel is archived: unarchive it, then subscribe it again",
            "This replica: leader",
        ]

    def test_status_names_a_refusing_channel(self, bot: Bot, world: World) -> None:
        """A channel whose posts Slack refused, not broken yet, is named with the count."""
        world.subscribe("C1")
        world.subscribe("CREF")
        world.slack.channel("CREF", error="restricted_action")
        world.rhombus.add(clip("A", T0 + 1000))
        world.poller.poll_once()
        bot.command("status")
        lines = bot.next_response()["text"].splitlines()
        assert ":warning: <#CREF>: Slack refused its cards in the last 1 poll" in lines
        assert [line for line in lines if "<#C1>" in line] == []

    def test_status_names_the_replicas_part(
        self, bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """On a replica that does not poll, status says so (the leader's health is shared)."""
        monkeypatch.setattr(bot.deps, "replica", lambda: "follower")
        bot.command("status")
        assert bot.next_response()["text"].splitlines()[-1] == "This replica: follower"

    def test_status_with_the_database_down(
        self, bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the database unreachable, status says so in words instead of failing."""

        def down(*args: object) -> None:
            raise StoreUnavailable("PostgreSQL at db:5432/clipbot: connection refused")

        monkeypatch.setattr(world.store, "health", down)
        bot.command("status")
        assert bot.next_response()["text"] == (
            ":red_circle: *The database is unavailable*: this replica has stopped polling"
            " until it is back."
        )

    def test_status_shows_errors(self, bot: Bot, world: World) -> None:
        """A failing poll makes status say not healthy, with the error."""
        world.subscribe("C1")
        world.rhombus.fail("getSavedClipsV2", Reply.json({"error": True, "errorMsg": "Boom"}))
        with pytest.raises(Exception, match="Boom"):
            world.poller.poll_once()
        bot.command("status")
        text = bot.next_response()["text"].splitlines()
        assert text[0] == "*:red_circle: Not healthy*"
        assert text[1].startswith("Last error: Rhombus event/getSavedClipsV2 failed: Boom (<!date^")

    def test_home(self, bot: Bot, world: World) -> None:
        """Opening the Home tab publishes health, subscriptions and the five newest clips."""
        world.rhombus.add(*(clip(f"C{i}", NOW - 1000 * i) for i in range(7)))
        world.subscribe("C1")
        bot.home_opened(user="U5")
        (published,) = eventually(lambda: world.slack.called("views.publish"))
        assert published["user_id"] == "U5"
        view = published["view"]
        assert [b["type"] for b in view["blocks"]] == [
            "header",
            "section",
            "divider",
            "section",
            "divider",
            "section",
        ]
        recent = view["blocks"][-1]["text"]["text"].splitlines()
        assert recent[0] == "*Recent clips*"
        assert [line.split("|")[1].split(">")[0] for line in recent[1:]] == [
            f"Clip C{i}" for i in range(5)
        ]

    def test_home_shows_the_metrics_figures(
        self, bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The Home tab's health carries the same figures as /metrics, and the replica's part."""
        metrics = Metrics(lambda: NOW - 150_000, now=lambda: NOW / 1000)
        metrics.slack_error("ratelimited")
        metrics.rhombus_error("timeout")
        monkeypatch.setattr(bot.deps, "metrics", metrics)
        bot.home_opened(user="U5")
        (published,) = eventually(lambda: world.slack.called("views.publish"))
        health = published["view"]["blocks"][1]["text"]["text"].splitlines()
        assert health[-4:] == [
            "Feed lag: 2m since the newest clip read",
            "Slack errors since start: ratelimited ×1",
            "Rhombus errors since start: timeout ×1",
            "This replica: leader",
        ]


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": signature,
    }


class TestHttpMode:
    def body(self, response_url: str = "http://127.0.0.1:9/x") -> str:
        return urlencode(
            {
                "team_id": "T0001",
                "channel_id": "C1",
                "user_id": "U1",
                "command": "/clips",
                "text": "help",
                "response_url": response_url,
            }
        )

    def test_signed_request_accepted(self, bot: Bot, world: World) -> None:
        """A correctly signed HTTP request is acknowledged (200, empty) and answered."""
        body = self.body(world.slack.response_url())
        response = bot.app.dispatch(BoltRequest(body=body, headers=sign(body, int(time.time()))))
        assert (response.status, response.body) == (200, "")
        assert bot.next_response()["text"] == USAGE

    def test_bad_signature_rejected(self, bot: Bot) -> None:
        """A request signed with another secret gets 401."""
        body = self.body()
        response = bot.app.dispatch(
            BoltRequest(body=body, headers=sign(body, int(time.time()), "wrong"))
        )
        assert response.status == 401

    def test_stale_timestamp_rejected(self, bot: Bot) -> None:
        """A request older than five minutes is refused even with a valid signature."""
        body = self.body()
        response = bot.app.dispatch(
            BoltRequest(body=body, headers=sign(body, int(time.time()) - 600))
        )
        assert response.status == 401


def test_unexpected_failure_gets_short_answer(
    bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug inside a listener is logged, and the user gets a short message, not a trace."""

    def broken(team_id: str | None = None) -> list[Subscription]:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.store, "subscriptions", broken)
    bot.command("subscriptions")
    assert bot.next_response() == {
        "text": "Something went wrong inside clipbot; it is logged. Please try again.",
        "response_type": "ephemeral",
        "replace_original": False,
    }


def test_database_down_gets_its_own_answer(
    bot: Bot, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the database unreachable, a command is answered in words that say so."""

    def down(team_id: str | None = None) -> list[Subscription]:
        raise StoreUnavailable("PostgreSQL at db:5432/clipbot: connection refused")

    monkeypatch.setattr(world.store, "subscriptions", down)
    bot.command("subscriptions")
    assert bot.next_response() == {
        "text": "clipbot cannot reach its database right now; please try again in a minute.",
        "response_type": "ephemeral",
        "replace_original": False,
    }
