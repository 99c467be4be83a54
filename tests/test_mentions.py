"""Slash-command text as Slack sends it: HTML escaping undone, mentions read as such."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipbot.blocks import escape
from clipbot.mentions import Mention, MentionKind, parse_mention, typed
from clipbot.query import ListQuery, ParseError, SubscribeQuery, parse
from clipbot.words import Token, tokens


class TestEscaping:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("R&amp;D", ListQuery(words=("R&D",))),
            ("camera:&lt;lobby&gt;", ListQuery(camera="<lobby>")),
            ('camera:"R&amp;D lab" 5', ListQuery(limit=5, camera="R&D lab")),
            ("&amp;lt;", ListQuery(words=("&lt;",))),  # the user typed "&lt;" itself
        ],
    )
    def test_decoded_before_parsing(self, text: str, expected: ListQuery) -> None:
        """What Slack escaped is read as the user typed it."""
        assert parse(text) == expected

    def test_subscribe(self) -> None:
        """A subscription's camera name is the typed one."""
        assert parse("subscribe camera:R&amp;D") == SubscribeQuery(camera="R&D")

    def test_errors_echo_what_was_typed(self) -> None:
        """An error names the token as typed (escaped once later, for mrkdwn)."""
        message = parse("status:R&amp;D")
        assert isinstance(message, ParseError)
        assert message.message.startswith("`status:R&D` is not a clip status")

    def test_length_counts_typed_characters(self) -> None:
        """`&amp;` is one character of the 500 allowed, not five."""
        assert parse("&amp;" * 500) == ListQuery(words=("&" * 500,))
        assert isinstance(parse("&amp;" * 501), ParseError)

    @settings(max_examples=200)
    @given(st.text(alphabet=st.sampled_from("ab &<>\"'@#|:"), max_size=40))
    def test_escaped_text_reads_as_typed(self, text: str) -> None:
        """Whatever was typed, Slack's escaped form reads back as exactly that."""
        assert typed(escape(text)) == text


class TestMentions:
    @pytest.mark.parametrize(
        ("token", "mention"),
        [
            ("<@U123ABC|dana>", Mention(MentionKind.USER, "U123ABC", "@dana")),
            ("<@W99>", Mention(MentionKind.USER, "W99", "@W99")),
            ("<#C024BE7LR|general>", Mention(MentionKind.CHANNEL, "C024BE7LR", "#general")),
            (
                "<!subteam^S0614TZR7|@oncall>",
                Mention(MentionKind.USERGROUP, "S0614TZR7", "@oncall"),
            ),
            ("<!here>", None),
            ("<https://example.com|site>", None),
            ("@dana", None),
            ("&lt;@U1|dana&gt;", None),  # typed literally, escaped by Slack: not a mention
        ],
    )
    def test_parse_mention(self, token: str, mention: Mention | None) -> None:
        """The three kinds of mention, with or without a label; nothing else is one."""
        assert parse_mention(token) == mention

    def test_mrkdwn(self) -> None:
        """Each kind is written back the way a message mentions it."""
        assert [
            Mention(MentionKind.USER, "U1", "@a").mrkdwn,
            Mention(MentionKind.CHANNEL, "C1", "#b").mrkdwn,
            Mention(MentionKind.USERGROUP, "S1", "@c").mrkdwn,
        ] == ["<@U1>", "<#C1>", "<!subteam^S1>"]

    def test_tokens_keep_mentions(self) -> None:
        """A mention is one token (label spaces included), read as its label, alone or as an
        option's value; elsewhere it is a plain word."""
        assert tokens('notify:<!subteam^S1|@night shift> <@U2|dana> "<#C3|ops> room" x&amp;y') == [
            Token("notify:@night shift", Mention(MentionKind.USERGROUP, "S1", "@night shift")),
            Token("@dana", Mention(MentionKind.USER, "U2", "@dana")),
            Token("#ops room"),
            Token("x&y"),
        ]
        assert parse("<@U2|dana> forklift <!here>") == ListQuery(
            words=("@dana", "forklift", "@here")
        )

    def test_typed(self) -> None:
        """Links read as their label, or their address without one."""
        assert typed("see <https://x.test/a?b=1&amp;c=2> and <https://y.test|Y &amp; Z>") == (
            "see https://x.test/a?b=1&c=2 and Y & Z"
        )
