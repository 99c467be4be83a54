"""The words of `/clips`: its text split into tokens, `key:value` options read, and the
errors naming a bad one (shown to the user, so each says what was typed and what to type)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clipbot.durations import MAX_DURATION_MS, MIN_DURATION_MS, range_text, read_duration
from clipbot.mentions import Mention, mention_in, protect, restore

# Slack (and phones) turn typed quotes into typographic ones; all count as plain double quotes.
QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the command as the user typed it, and the Slack mention it is (or holds
    after `key:`), for the options that take one."""

    text: str
    mention: Mention | None = None


class BadText(Exception):
    """What is wrong with the command text, in a sentence for the user."""


def tokens(text: str) -> list[Token]:
    """Splits Slack's command text on whitespace, HTML escaping undone; double quotes
    (typographic too) keep spaces inside one token; a mention is one token, read as `@name`."""
    protected, found = protect(text)
    result: list[Token] = []
    for match in re.finditer(r'(?:[^\s"]+|"[^"]*"?)+', protected.translate(QUOTES)):
        token = match.group(0)
        if token.count('"') % 2:
            raise BadText(f"A quote is not closed in `{shown(restore(token, found))}`.")
        token = token.replace('"', "")
        result.append(Token(restore(token, found), mention_in(token, found)))
    return result


def split(token: str, keys: tuple[str, ...]) -> tuple[str | None, str]:
    """(key, value) for `key:value` tokens; (None, token) for anything else."""
    key, colon, value = token.partition(":")
    if not colon or not key.isalpha():
        return None, token
    key = key.casefold()
    if key not in keys:
        accepted = ", ".join(f"`{k}:`" for k in keys)
        raise BadText(f"`{shown(key)}:` is not a filter here; use {accepted}.")
    return key, value


def duration_ms(text: str, key: str, high_ms: int = MAX_DURATION_MS) -> int:
    """`key:text` read as a duration (see clipbot.durations) in milliseconds, from 1s to
    `high_ms`; BadText saying which of the two it is not."""
    return bounded_duration(text, f"{key}:{text}", high_ms)


def bounded_duration(text: str, typed_as: str, high_ms: int) -> int:
    """`text` as a duration from 1s to `high_ms`; BadText quoting `typed_as` otherwise."""
    ms = read_duration(text)
    if ms is None:
        raise BadText(
            f"`{shown(typed_as)}` is not a duration; use a number and a unit, like 90m, 24h or 7d."
        )
    if not MIN_DURATION_MS <= ms <= high_ms:
        raise BadText(f"`{shown(typed_as)}` is out of range; {range_hint(high_ms)}.")
    return ms


def range_hint(high_ms: int) -> str:
    """`give a duration from 1s to 7d`: what to type instead of a duration out of range."""
    return f"give a duration {range_text(MIN_DURATION_MS, high_ms)}"


def camera_name(value: str) -> str:
    """The NAME of `camera:NAME`, trimmed; BadText when it is empty."""
    if not value.strip():
        raise BadText('`camera:` needs a name, like camera:dock or camera:"front door".')
    return value.strip()


def yes_no(values: dict[str, str], key: str) -> bool:
    """Whether `key:` was given as yes (absent: no); BadText for anything but yes or no."""
    if key not in values:
        return False
    value = values[key].strip().casefold()
    if value not in ("yes", "no"):
        raise BadText(f"`{key}:` takes yes or no (got `{shown(values[key])}`).")
    return value == "yes"


def shown(text: str) -> str:
    """User text quoted back safely: short, and without backticks that would break formatting."""
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"
