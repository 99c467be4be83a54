"""The README's `/clips` section and `/clips help` describe the grammar the parser takes: every
option and verb is in both, and every form and example they show parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clipbot.query import LIST_KEYS, SUBSCRIBE_FORMS, VERBS, ParseError, parse
from clipbot.replies import USAGE

README = (Path(__file__).parent.parent / "README.md").read_text()
SECTION = README.split("## `/clips` in Slack", 1)[1].split("\n## ", 1)[0]
# The first column of the section's table: each form of the command, as the README writes it.
FORMS = re.findall(r"^\| (`[^|]*`|\*\(empty\)\*[^|]*) \|", SECTION, flags=re.MULTILINE)
ALL_VERBS = (*VERBS, "recent", "mute", "unmute", "report", "audit")
# What each placeholder of a documented form stands for in a command someone types.
PLACEHOLDERS = {
    "NAME": "dock",
    "DURATION": "2h",
    "HH:MM-HH:MM": "18:00-07:00",
    "DAYS": "mon-fri",
    "STATUS": "COMPLETE",
    "@someone": "<@U1|someone>",
    "N": "5",
}


def typed(form: str) -> str:
    """A documented form as someone would type it: optional parts given, placeholders filled."""
    text = form.replace("[", "").replace("]", "")
    for placeholder, value in PLACEHOLDERS.items():
        text = re.sub(rf"(?<![A-Za-z@]){re.escape(placeholder)}(?![A-Za-z])", value, text)
    return text


def examples(text: str) -> list[str]:
    """The complete `/clips …` commands a text shows (not its templates with placeholders)."""
    found = re.findall(r"`/clips ?([^`]*)`", text)
    # An @mention picked from Slack's menu arrives as a mention token, not as typed.
    return [
        re.sub(r"@([\w-]+)", r"<!subteam^S1|@\1>", f)
        for f in found
        if not re.search(r"[A-Z]{2,}|…|\[", f)
    ]


def test_the_readme_table_is_found() -> None:
    """The test reads the table it means to check (every verb's row is there)."""
    assert len(FORMS) >= 14


@pytest.mark.parametrize("form", SUBSCRIBE_FORMS)
def test_every_subscribe_option_is_documented(form: str) -> None:
    """Each option `subscribe` takes is in the README's grammar and in the help text."""
    (row,) = [f for f in FORMS if f.startswith("`subscribe")]
    key = form.partition(":")[0]
    assert f"[{form}]" in row
    explained = SECTION.split(row, 1)[1].split("\n", 1)[0]
    assert f"`{key}:" in explained or any(f.startswith(f"`{key}:") for f in FORMS)
    assert f"{key}:" in USAGE


@pytest.mark.parametrize("key", LIST_KEYS)
def test_every_filter_is_documented(key: str) -> None:
    """Each listing filter is in the README's grammar and in the help text."""
    assert any(f.startswith(f"`{key}:") for f in FORMS)
    assert f"/clips {key}:" in USAGE


@pytest.mark.parametrize("verb", ALL_VERBS)
def test_every_verb_is_documented(verb: str) -> None:
    """Each verb is a row of the README's grammar and a line of the help text."""
    assert any(re.search(rf"`{verb}\b", f) for f in FORMS)
    assert re.search(rf"`/clips {verb}\b", USAGE)


def test_documented_forms_parse() -> None:
    """Every form in the README's table, filled in as a user would, is a command, not an error."""
    for form in FORMS:
        for variant in re.findall(r"`([^`]+)`", form) or [""]:
            text = typed(variant)
            assert not isinstance(parse(text), ParseError), (form, text, parse(text))


@pytest.mark.parametrize("source", ["README", "help"])
def test_examples_parse(source: str) -> None:
    """Every `/clips …` example in the README and in the help text is a command."""
    shown = examples(README if source == "README" else USAGE)
    assert len(shown) >= 10
    for text in shown:
        assert not isinstance(parse(text), ParseError), (text, parse(text))
