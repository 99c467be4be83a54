"""The /clips grammar: every valid form, every kind of mistake, and no input that raises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clipbot.query import (
    AuditQuery,
    Command,
    ListQuery,
    MuteQuery,
    ParseError,
    ReportQuery,
    SubscribeQuery,
    Verb,
    parse,
)


class TestValid:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", ListQuery()),
            ("   ", ListQuery()),
            ("25", ListQuery(limit=25)),
            ("recent", ListQuery()),
            ("recent 5", ListQuery(limit=5)),
            ("RECENT 50", ListQuery(limit=50)),
            ("camera:dock", ListQuery(camera="dock")),
            ('camera:"front door" 3', ListQuery(limit=3, camera="front door")),
            ("camera:“front door”", ListQuery(camera="front door")),
            ("since:90m", ListQuery(since_ms=90 * 60_000)),
            ("since:24h", ListQuery(since_ms=24 * 3_600_000)),
            ("since:7D", ListQuery(since_ms=7 * 86_400_000)),
            ("status:failed", ListQuery(status="FAILED")),
            ("forklift Night", ListQuery(words=("forklift", "Night"))),
            ('"loading bay" café', ListQuery(words=("loading bay", "café"))),
            (
                "recent 20 camera:dock since:24h status:COMPLETE forklift",
                ListQuery(
                    limit=20,
                    camera="dock",
                    since_ms=24 * 3_600_000,
                    status="COMPLETE",
                    words=("forklift",),
                ),
            ),
            ("subscribe", SubscribeQuery()),
            (
                "subscribe camera:dock min:30s private:yes",
                SubscribeQuery(camera="dock", min_duration_sec=30, include_private=True),
            ),
            (
                "subscribe min:2m monitoring:yes",
                SubscribeQuery(min_duration_sec=120, include_monitoring=True),
            ),
            ("unsubscribe", Verb("unsubscribe")),
            ("subscriptions", Verb("subscriptions")),
            ("open", Verb("open")),
            ("Status", Verb("status")),
            ("help", Verb("help")),
            ("report", ReportQuery(window_ms=7 * 86_400_000)),
            ("report 24h", ReportQuery(window_ms=24 * 3_600_000)),
            ("Report since:30d", ReportQuery(window_ms=30 * 86_400_000)),
            ("audit", AuditQuery(window_ms=7 * 86_400_000, since_text="7d")),
            ("audit 30D", AuditQuery(window_ms=30 * 86_400_000, since_text="30d")),
            ("audit since:12h", AuditQuery(window_ms=12 * 3_600_000, since_text="12h")),
        ],
    )
    def test_parses(self, text: str, expected: object) -> None:
        """Each form of the grammar parses to its typed query."""
        assert parse(text) == expected


class TestNotify:
    """`subscribe notify:` takes the mention Slack sends with should_escape (see test_mentions)."""

    @pytest.mark.parametrize(
        ("text", "notify"),
        [
            ("subscribe notify:<@U024BE7LH|bob>", "<@U024BE7LH>"),
            ("subscribe notify:<@U024BE7LH>", "<@U024BE7LH>"),
            ("subscribe notify:<@W0G3X8K5T|alice>", "<@W0G3X8K5T>"),
            ("subscribe notify:<!subteam^SAZ94GDB8|@security-team>", "<!subteam^SAZ94GDB8>"),
            ("subscribe notify:<!subteam^SAZ94GDB8>", "<!subteam^SAZ94GDB8>"),
            ("subscribe NOTIFY:<@U024BE7LH|bob smith>", "<@U024BE7LH>"),
        ],
    )
    def test_notify_takes_each_mention_form(self, text: str, notify: str) -> None:
        """Every form Slack sends a user or user group in becomes the mention messages use."""
        assert parse(text) == SubscribeQuery(notify=notify)

    def test_group_window(self) -> None:
        """`group:2m` is the burst window, in milliseconds."""
        assert parse("subscribe group:2m camera:dock") == SubscribeQuery(
            camera="dock", group_ms=120_000
        )

    def test_notify_with_other_filters(self) -> None:
        """notify: combines with the other subscription filters, in any order."""
        assert parse("subscribe notify:<!subteam^S1|@sec> camera:dock min:30s") == SubscribeQuery(
            camera="dock", min_duration_sec=30, notify="<!subteam^S1>"
        )

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                "subscribe notify:@bob",
                "`notify:@bob` arrived as plain text, not as a Slack mention: pick the person or group from the @ menu (the app's /clips command needs should_escape).",
            ),
            (
                "subscribe notify:<#C024BE7LR|general>",
                "`notify:#general` is not a person or a user group; use notify:@someone or notify:@team.",
            ),
            (
                "subscribe notify:<!here>",
                "`notify:@here` is not a person or a user group; use notify:@someone or notify:@team.",
            ),
            (
                "subscribe notify:",
                "`notify:` is not a person or a user group; use notify:@someone or notify:@team.",
            ),
            ("subscribe notify:<@U1|a> notify:<@U2|b>", "`notify:` is given twice."),
            ("subscribe group:2d", "`group:2d` is out of range; give a duration from 1s to 24h."),
            (
                "subscribe group:soon",
                "`group:soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.",
            ),
        ],
    )
    def test_notify_refuses_what_is_not_a_person(self, text: str, message: str) -> None:
        """Plain text, channels and broadcasts are refused, saying why."""
        assert parse(text) == ParseError(message)


class TestErrors:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("0", "0 clips is out of range; ask for 1 to 50."),
            ("51", "51 clips is out of range; ask for 1 to 50."),
            ("recent -1", "-1 clips is out of range; ask for 1 to 50."),
            ("5 6", "Only one number of clips, please (got 5 and 6)."),
            (
                "since:soon",
                "`since:soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.",
            ),
            (
                "since:0h",
                "`since:0h` is out of range; give a duration from 1s to 366d.",
            ),
            ("since:999w", "`since:999w` is out of range; give a duration from 1s to 366d."),
            (
                "status:weird",
                "`status:weird` is not a clip status; use one of INITIATING, UPLOADING, RENDERING, COMPLETE, FAILED, OFFLINE, DELETED.",
            ),
            ('camera:""', '`camera:` needs a name, like camera:dock or camera:"front door".'),
            ("color:red", "`color:` is not a filter here; use `camera:`, `since:`, `status:`."),
            ('camera:"front door', 'A quote is not closed in `camera:"front door`.'),
            ("camera:a camera:b", "`camera:` is given twice."),
            ("help me", "`help` takes nothing after it (got `me`)."),
            (
                "subscribe everything",
                "`subscribe` does not take `everything`; it takes camera:NAME, min:DURATION, private:yes, monitoring:yes, hours:HH:MM-HH:MM, days:DAYS, group:DURATION and notify:@someone.",
            ),
            ("subscribe private:maybe", "`private:` takes yes or no (got `maybe`)."),
            (
                "subscribe since:1h",
                "`since:` is not a filter here; use `camera:`, `min:`, `private:`, `monitoring:`, `hours:`, `days:`, `group:`, `notify:`.",
            ),
            (
                "report soon",
                "`report soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.",
            ),
            ("report 999w", "`report 999w` is out of range; give a duration from 1s to 366d."),
            ("report 1d 2d", "`report` takes one duration, like 24h or 7d (got `2d`)."),
            (
                "audit soon",
                "`audit soon` is not a duration; use a number and a unit, like 90m, 24h or 7d.",
            ),
            ("audit 7d all", "`audit` takes one duration, like 24h or 7d (got `all`)."),
            ("x" * 501, "That is 501 characters; /clips takes at most 500."),
        ],
    )
    def test_names_the_problem(self, text: str, message: str) -> None:
        """Each mistake gets a sentence naming the bad token and what is accepted."""
        assert parse(text) == ParseError(message)


class TestDurationRange:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("subscribe min:0s", "`min:0s` is out of range; give a duration from 1s to 366d."),
            ("subscribe min:367d", "`min:367d` is out of range; give a duration from 1s to 366d."),
            ("since:0m", "`since:0m` is out of range; give a duration from 1s to 366d."),
            (
                "since:9999999d",
                "`since:9999999d` is out of range; give a duration from 1s to 366d.",
            ),
            (
                "since:" + "9" * 60 + "w",
                "`since:" + "9" * 33 + "…` is out of range; give a duration from 1s to 366d.",
            ),
            ("subscribe group:0s", "`group:0s` is out of range; give a duration from 1s to 24h."),
            ("subscribe group:25h", "`group:25h` is out of range; give a duration from 1s to 24h."),
            ("mute camera:dock for:0m", "`for:0m` is out of range; give a duration from 1s to 7d."),
            ("mute camera:dock for:2y", "`for:2y` is out of range; give a duration from 1s to 7d."),
            ("report 0d", "`report 0d` is out of range; give a duration from 1s to 366d."),
            (
                "audit 1000000d",
                "`audit 1000000d` is out of range; give a duration from 1s to 366d.",
            ),
        ],
    )
    def test_out_of_range_names_the_bounds(self, text: str, message: str) -> None:
        """A number and a unit outside what the option takes (zero, or longer than its limit,
        however many digits) is out of range, naming the bounds; not "not a duration"."""
        assert parse(text) == ParseError(message)

    @pytest.mark.parametrize(
        ("text", "query"),
        [
            ("since:1s", ListQuery(since_ms=1000)),
            ("since:366d", ListQuery(since_ms=366 * 86_400_000)),
            ("subscribe min:1s", SubscribeQuery(min_duration_sec=1)),
            ("subscribe group:24h", SubscribeQuery(group_ms=86_400_000)),
            ("mute camera:dock for:7d", MuteQuery("dock", 7 * 86_400_000)),
        ],
    )
    def test_the_bounds_themselves_are_taken(self, text: str, query: Command) -> None:
        """Both ends of each range are accepted."""
        assert parse(text) == query


@given(st.text(max_size=600))
def test_no_text_raises(text: str) -> None:
    """Whatever is typed, parse answers with a command or an error, never an exception."""
    result = parse(text)
    assert isinstance(result, Command | ParseError)


@given(
    st.lists(
        st.sampled_from(
            [
                "camera:",
                "since:",
                '"',
                "“",
                "5",
                "subscribe",
                ":",
                "status:",
                " ",
                "é",
                "x",
                "<",
                ">",
                "|",
                "@U1",
                "!subteam^S1",
                "#",
                "notify:",
                "report",
            ]
        ),
        max_size=12,
    )
)
def test_grammar_fragments_never_raise(parts: list[str]) -> None:
    """Fragments of the grammar, glued at random, never raise."""
    result = parse("".join(parts))
    assert isinstance(result, Command | ParseError)
