"""The audit trail: recorded through the real Bolt stack, shown by /clips audit and `clipbot audit`."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot import audit
from clipbot.cli import main
from clipbot.slack.commands import AUDIT_NO_ADMINS
from clipbot.state import AuditEntry, AuditKind
from clipbot.store import SqliteStore
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

NOW = T0 + 3_600_000
MINUTE = 60_000
DAY = 86_400_000


def date(ms: int) -> str:
    return f"<!date^{ms // 1000}^{{date_short_pretty}} at {{time}}|" + (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms // 1000)) + ">"
    )


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world, admins=frozenset({"UADMIN"}))


def lines(message: dict[str, object]) -> list[str]:
    out: list[str] = []
    for block in message.get("blocks") or []:  # type: ignore[attr-defined]
        if block["type"] == "section":
            out += block["text"]["text"].splitlines()
    return out


def act(bot: Bot, world: World) -> None:
    """An admin subscribes C1, U2 shares a link to a posted clip, the admin unsubscribes."""
    world.rhombus.add(clip("OLD", NOW - 10 * MINUTE))
    bot.command("subscribe camera:front min:30s", user="UADMIN")
    assert bot.next_response()["text"].startswith("Subscribed <#C1>")
    world.now[0] = NOW + 5 * MINUTE
    world.rhombus.add(clip("A", NOW + MINUTE, title="Gate <left> open"))
    world.poller.poll_once()
    (card,) = world.slack.posts("C1")[1:]  # after the subscription's announcement
    world.now[0] = NOW + 10 * MINUTE
    bot.press("clip_share", "A", user="U2", ts=card.ts)
    eventually(lambda: world.slack.replies("C1", card.ts))
    world.now[0] = NOW + 15 * MINUTE
    bot.command("unsubscribe", user="UADMIN")
    assert bot.next_response()["text"].startswith("Unsubscribed <#C1>")


EXPECTED = [
    AuditEntry(
        NOW + 15 * MINUTE,
        AuditKind.UNSUBSCRIBE,
        "UADMIN",
        "C1",
        "cameras matching “front”, at least 30s long",
    ),
    AuditEntry(
        NOW + 10 * MINUTE,
        AuditKind.SHARE,
        "U2",
        "C1",
        "Gate <left> open",
        clip_uuid="A",
        expires_at_ms=NOW + 10 * MINUTE + DAY,
    ),
    AuditEntry(
        NOW, AuditKind.SUBSCRIBE, "UADMIN", "C1", "cameras matching “front”, at least 30s long"
    ),
]


class TestRecorded:
    def test_each_action_with_user_and_time(self, bot: Bot, world: World) -> None:
        """Subscribe, share link (with its expiry) and unsubscribe are on the record, newest first."""
        act(bot, world)
        assert world.store.audit(0) == EXPECTED

    def test_mute_and_unmute_through_slack(self, bot: Bot, world: World) -> None:
        """/clips mute and unmute are on the record with who, where, when and what."""
        world.subscribe("C5")
        bot.command("mute camera:dock for:2h", channel="C5", user="UADMIN")
        assert bot.next_response()["text"].startswith("Muted cameras matching “dock”")
        world.now[0] = NOW + 30 * MINUTE
        bot.command("unmute", channel="C5", user="UADMIN")
        assert bot.next_response()["text"].startswith("Unmuted in <#C5>")
        assert world.store.audit(0) == [
            AuditEntry(
                NOW + 30 * MINUTE, AuditKind.UNMUTE, "UADMIN", "C5", "cameras matching “dock”"
            ),
            AuditEntry(NOW, AuditKind.MUTE, "UADMIN", "C5", "cameras matching “dock” for 2 h"),
        ]

    def test_video_kind_through_record(self, world: World) -> None:
        """The Video button's entry (tests/test_video.py presses it) lands as its own kind."""
        audit.record(world.store, AuditKind.VIDEO, "U3", "C2", NOW, details="Gate (1.4 MB)")
        assert [(e.kind, e.user_id, e.at_ms) for e in world.store.audit(0)] == [
            (AuditKind.VIDEO, "U3", NOW)
        ]

    def test_kept_ninety_days_then_pruned(self, world: World) -> None:
        """Entries are kept 90 days; older ones go when the next one is recorded."""
        for age_days in (91, 90, 0):
            audit.record(world.store, AuditKind.SHARE, "U1", "C1", NOW - age_days * DAY - 1)
        assert [e.at_ms for e in world.store.audit(0)] == [NOW - 1, NOW - 90 * DAY - 1]

    def test_refused_actions_are_not_recorded(self, world: World) -> None:
        """A refused subscribe or share leaves no entry."""
        bot = Bot(world)  # no admins: private:yes is refused
        bot.command("subscribe private:yes", user="U1")
        bot.next_response()
        assert world.store.audit(0) == []


class TestSlashAudit:
    def test_admin_sees_the_trail(self, bot: Bot, world: World) -> None:
        """/clips audit shows an admin each entry, newest first, ephemerally."""
        act(bot, world)
        bot.command("audit", user="UADMIN")
        reply = bot.next_response()
        assert reply["response_type"] == "ephemeral"
        assert lines(reply) == [
            "*Audit trail — last 7 days*",
            f"• {date(NOW + 15 * MINUTE)} — <@UADMIN> unsubscribed <#C1> — cameras matching “front”, at least 30s long",
            f"• {date(NOW + 10 * MINUTE)} — <@U2> shared a login-free link in <#C1> — Gate &lt;left&gt; open — clip A — expires {date(NOW + 10 * MINUTE + DAY)}",
            f"• {date(NOW)} — <@UADMIN> subscribed <#C1> — cameras matching “front”, at least 30s long",
        ]

    def test_window(self, bot: Bot, world: World) -> None:
        """`/clips audit 12m` shows only what happened in the last 12 minutes."""
        act(bot, world)
        bot.command("audit 12m", user="UADMIN")
        assert [line.split(" — ")[1] for line in lines(bot.next_response())[1:]] == [
            "<@UADMIN> unsubscribed <#C1>",
            "<@U2> shared a login-free link in <#C1>",
        ]

    def test_others_are_refused(self, bot: Bot, world: World) -> None:
        """Non-admins are refused; with no admins configured the refusal names the setting."""
        act(bot, world)
        bot.command("audit", user="U2")
        assert bot.next_response()["text"] == (
            "Only clipbot admins (<@UADMIN>) can see the audit trail; ask one of them, or run "
            "`clipbot audit` where clipbot runs."
        )
        Bot(world).command("audit", user="U2")
        assert bot.next_response()["text"] == AUDIT_NO_ADMINS
        assert "CLIPBOT_ADMINS" in AUDIT_NO_ADMINS

    def test_long_trail_says_how_many_more(self, bot: Bot, world: World) -> None:
        """A long trail stays inside Slack's limits: what fits, then "and N more" and the CLI."""
        for i in range(130):
            audit.record(
                world.store, AuditKind.SHARE, "U1", "C1", NOW + i, details="x" * 200, clip_uuid="A"
            )
        bot.command("audit 30d", user="UADMIN")
        reply = bot.next_response()
        blocks = reply["blocks"]
        shown = len(lines(reply)) - 1
        assert 10 < shown < 130
        assert lines(reply)[1:] == [lines(reply)[1]] * shown  # whole lines, none cut
        assert blocks[-1]["elements"][0]["text"] == (
            f"…and {130 - shown} more. `clipbot audit --since 30d` lists them all in a terminal "
            "(`--csv` for a spreadsheet)."
        )

    def test_nothing_recorded(self, bot: Bot) -> None:
        """An empty trail says so."""
        bot.command("audit 1d", user="UADMIN")
        assert bot.next_response()["text"] == "*Audit trail — last 24 h*\nNothing was recorded."


class TestCommandLine:
    def entries(self, path: Path) -> list[AuditEntry]:
        now = int(time.time() * 1000)
        store = SqliteStore(str(path))
        try:
            audit.record(store, AuditKind.SUBSCRIBE, "U1", "C1", now - 10 * DAY, details="old")
            audit.record(store, AuditKind.SUBSCRIBE, "U1", "C1", now - DAY, details='all "cams", x')
            audit.record(
                store,
                AuditKind.SHARE,
                "U2",
                "C1",
                now - MINUTE,
                details="Gate, left\nopen",
                clip_uuid="A",
                expires_at_ms=now + DAY,
            )
            return store.audit(now - 7 * DAY)
        finally:
            store.close()

    def test_csv_parses_back(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`clipbot audit --csv` is CSV with a header row that parses back to the same entries."""
        expected = self.entries(tmp_path / "clipbot.db")
        assert main(["audit", "--csv"], env) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out, newline="")))
        assert [
            AuditEntry(
                at_ms=round(_ms(r["at"])),
                kind=AuditKind(r["kind"]),
                user_id=r["user"],
                channel_id=r["channel"],
                details=r["details"],
                clip_uuid=r["clip"] or None,
                expires_at_ms=round(_ms(r["expires"])) if r["expires"] else None,
            )
            for r in rows
        ] == expected
        assert len(expected) == 2

    def test_lines_and_since(
        self, env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --csv, one line per entry; --since widens the window."""
        share, recent = self.entries(tmp_path / "clipbot.db")
        assert main(["audit", "--since", "30d"], env) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"{_local(share.at_ms)}  share        U2  C1  Gate, left open  clip A  expires "
            f"{_local(share.at_ms + MINUTE + DAY)}",
            f'{_local(recent.at_ms)}  subscribe    U1  C1  all "cams", x',
            f"{_local(recent.at_ms - 9 * DAY)}  subscribe    U1  C1  old",
        ]

    def test_needs_only_the_store(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No tokens needed; an empty trail says so."""
        env = {"CLIPBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        assert main(["audit"], env) == 0
        assert capsys.readouterr().out == "Nothing was recorded.\n"

    def test_bad_configuration(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad database URL, or a store that cannot be opened, is exit 2 naming the setting."""
        assert main(["audit"], {"CLIPBOT_DATABASE_URL": "mysql://x"}) == 2
        assert "CLIPBOT_DATABASE_URL" in capsys.readouterr().err
        missing = f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"
        assert main(["audit"], {"CLIPBOT_DATABASE_URL": missing}) == 2
        assert "CLIPBOT_DATABASE_URL" in capsys.readouterr().err

    def test_bad_since(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A --since that is not a duration is a usage error (exit 2) naming it."""
        with pytest.raises(SystemExit) as exited:
            main(["audit", "--since", "soon"], {})
        assert exited.value.code == 2
        assert "'soon' is not a duration" in capsys.readouterr().err

    def test_since_out_of_range(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A --since of zero or past 366 days is a usage error naming the bounds."""
        for since in ("0d", "367d"):
            with pytest.raises(SystemExit) as exited:
                main(["audit", "--since", since], {})
            assert exited.value.code == 2
            error = capsys.readouterr().err.splitlines()[-1]
            assert error.endswith(
                f"argument --since: '{since}' is out of range; give a duration from 1s to 366d"
            )


def _ms(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp() * 1000


def _local(ms: int) -> str:
    from datetime import datetime

    return f"{datetime.fromtimestamp(ms / 1000).astimezone():%Y-%m-%d %H:%M %Z}"
