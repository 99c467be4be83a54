"""The /clips grammar: command text in, a typed command or a typed error out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clipbot.durations import MAX_DURATION_MS, UNIT_MS
from clipbot.mentions import MentionKind, typed
from clipbot.quiet import MAX_MUTE_MS, Schedule, ScheduleError, schedule
from clipbot.records import STATUSES
from clipbot.words import (
    BadText,
    Token,
    bounded_duration,
    camera_name,
    duration_ms,
    range_hint,
    shown,
    split,
    tokens,
    yes_no,
)

DEFAULT_LIMIT, MAX_LIMIT = 10, 50
MAX_TEXT = 500
LIST_KEYS = ("camera", "since", "status")
# subscribe's options as the usage writes them; their keys are what the parser takes
SUBSCRIBE_FORMS = (
    "camera:NAME",
    "min:DURATION",
    "private:yes",
    "monitoring:yes",
    "hours:HH:MM-HH:MM",
    "days:DAYS",
    "group:DURATION",
    "notify:@someone",
)
SUBSCRIBE_KEYS = tuple(form.partition(":")[0] for form in SUBSCRIBE_FORMS)
MUTE_KEYS = ("camera", "for")
MAX_GROUP_MS = 86_400_000
BROADCASTS = ("@here", "@channel", "@everyone")
VERBS = ("subscribe", "unsubscribe", "subscriptions", "open", "status", "help")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """`/clips [recent] [N] [filters] [words]`."""

    limit: int = DEFAULT_LIMIT
    camera: str | None = None
    since_ms: int | None = None
    status: str | None = None
    words: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        return bool(self.camera or self.since_ms or self.status or self.words)


@dataclass(frozen=True, slots=True)
class SubscribeQuery:
    camera: str | None = None
    min_duration_sec: int | None = None
    include_private: bool = False
    include_monitoring: bool = False
    notify: str | None = None  # a mention as messages write it: <@U…> or <!subteam^S…>
    schedule: Schedule | None = None  # hours:/days:, read in CLIPBOT_TIMEZONE
    group_ms: int | None = None  # clips from a camera whose card is younger join its thread


@dataclass(frozen=True, slots=True)
class MuteQuery:
    """`/clips mute camera:NAME for:DURATION` (at most 7 days)."""

    camera: str
    duration_ms: int


@dataclass(frozen=True, slots=True)
class UnmuteQuery:
    """`/clips unmute [camera:NAME]`: one camera's mute ends, or (None) every one here."""

    camera: str | None = None


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """`/clips report [DURATION]`: the daily summary's figures over the window."""

    window_ms: int = 7 * UNIT_MS["d"]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """`/clips audit [DURATION]`: the audit trail over the window (admins only)."""

    window_ms: int = 7 * UNIT_MS["d"]
    since_text: str = "7d"  # the window as typed, for the pointer to `clipbot audit --since`


@dataclass(frozen=True, slots=True)
class Verb:
    """A subcommand without arguments: unsubscribe, subscriptions, open, status, help."""

    name: str


@dataclass(frozen=True, slots=True)
class ParseError:
    """What is wrong with the text, in a sentence naming the bad token."""

    message: str


Command = ListQuery | SubscribeQuery | ReportQuery | AuditQuery | MuteQuery | UnmuteQuery | Verb


def parse(text: str) -> Command | ParseError:
    """The command Slack's command `text` (HTML-escaped, mentions as `<…>` tokens) stands for,
    or what is wrong with it."""
    try:
        return _parse(text)
    except BadText as bad:
        return ParseError(str(bad))


def _parse(text: str) -> Command:
    length = len(typed(text))
    if length > MAX_TEXT:
        raise BadText(f"That is {length} characters; /clips takes at most {MAX_TEXT}.")
    parsed = tokens(text)
    words = [token.text for token in parsed]
    head = words[0].casefold() if words else ""
    if head == "subscribe":
        return _subscribe(parsed[1:])
    if head in ("mute", "unmute"):
        return _mute(head, words[1:])
    if head == "report":
        window = _window(words[1:], "report")
        return ReportQuery(window[0]) if window else ReportQuery()
    if head == "audit":
        window = _window(words[1:], "audit")
        return AuditQuery(*window) if window else AuditQuery()
    if head in VERBS:
        if len(words) > 1:
            raise BadText(f"`{head}` takes nothing after it (got `{shown(words[1])}`).")
        return Verb(head)
    return _list(words[1:] if head == "recent" else words)


def _list(tokens: list[str]) -> ListQuery:
    values: dict[str, str] = {}
    limit: int | None = None
    words: list[str] = []
    for token in tokens:
        key, value = split(token, LIST_KEYS)
        if key:
            if key in values:
                raise BadText(f"`{key}:` is given twice.")
            values[key] = value
        elif re.fullmatch(r"[+-]?[0-9]+", token):  # -1 is a count out of range, not a word
            if limit is not None:
                raise BadText(f"Only one number of clips, please (got {limit} and {token}).")
            limit = _limit(token)
        elif token:
            words.append(token)
    return ListQuery(
        limit=DEFAULT_LIMIT if limit is None else limit,
        camera=camera_name(values["camera"]) if "camera" in values else None,
        since_ms=duration_ms(values["since"], "since") if "since" in values else None,
        status=_status(values["status"]) if "status" in values else None,
        words=tuple(words),
    )


def _subscribe(tokens: list[Token]) -> SubscribeQuery:
    values: dict[str, str] = {}
    notify: str | None = None
    for token in tokens:
        key, value = split(token.text, SUBSCRIBE_KEYS)
        if not key:
            forms = ", ".join(SUBSCRIBE_FORMS[:-1]) + f" and {SUBSCRIBE_FORMS[-1]}"
            raise BadText(f"`subscribe` does not take `{shown(token.text)}`; it takes {forms}.")
        if key in values:
            raise BadText(f"`{key}:` is given twice.")
        values[key] = value
        if key == "notify":
            notify = _notify(token)
    minimum = duration_ms(values["min"], "min") // 1000 if "min" in values else None
    return SubscribeQuery(
        camera=camera_name(values["camera"]) if "camera" in values else None,
        min_duration_sec=minimum,
        include_private=yes_no(values, "private"),
        include_monitoring=yes_no(values, "monitoring"),
        notify=notify,
        schedule=_schedule(values.get("hours"), values.get("days")),
        group_ms=_group(values.get("group")),
    )


def _group(value: str | None) -> int | None:
    return None if value is None else duration_ms(value, "group", MAX_GROUP_MS)


def _schedule(hours: str | None, days: str | None) -> Schedule | None:
    try:
        return schedule(hours, days)
    except ScheduleError as exc:
        raise BadText(str(exc)) from None


def _mute(verb: str, words: list[str]) -> MuteQuery | UnmuteQuery:
    values: dict[str, str] = {}
    for word in words:
        key, value = split(word, MUTE_KEYS if verb == "mute" else MUTE_KEYS[:1])
        if not key or key in values:
            raise BadText(f"`{verb}` takes camera:NAME{' and for:DURATION' * (verb == 'mute')}.")
        values[key] = value
    camera = camera_name(values["camera"]) if "camera" in values else None
    if verb == "unmute":
        return UnmuteQuery(camera)
    if camera is None or "for" not in values:
        raise BadText(
            "`mute` needs a camera and how long: /clips mute camera:NAME for:2h (at most 7d)."
        )
    text = values["for"].strip().casefold()
    if re.fullmatch(r"\d+ *(y|yrs?|years?|mo|months?)", text):  # meant as a duration: too long
        raise BadText(f"`for:{shown(text)}` is out of range; {range_hint(MAX_MUTE_MS)}.")
    return MuteQuery(camera, duration_ms(text, "for", MAX_MUTE_MS))


def _notify(token: Token) -> str:
    """`notify:` names a person or a user group, as a Slack mention: how messages write it."""
    mention = token.mention
    if mention is not None and mention.kind is not MentionKind.CHANNEL:
        return mention.mrkdwn
    value = token.text.partition(":")[2].strip()
    if mention is None and value.startswith("@") and value.casefold() not in BROADCASTS:
        raise BadText(
            f"`notify:{shown(value)}` arrived as plain text, not as a Slack mention: pick the "
            "person or group from the @ menu (the app's /clips command needs should_escape)."
        )
    raise BadText(
        f"`notify:{shown(value)}` is not a person or a user group; "
        "use notify:@someone or notify:@team."
    )


def _window(tokens: list[str], verb: str) -> tuple[int, str] | None:
    """The one optional duration after `verb` (milliseconds, and as typed), or None."""
    if len(tokens) > 1:
        raise BadText(f"`{verb}` takes one duration, like 24h or 7d (got `{shown(tokens[1])}`).")
    if not tokens:
        return None
    text = tokens[0].removeprefix("since:")
    window = bounded_duration(text, f"{verb} {tokens[0]}", MAX_DURATION_MS)
    return window, text.strip().casefold()


def _limit(token: str) -> int:
    value = int(token)
    if not 1 <= value <= MAX_LIMIT:
        raise BadText(f"{shown(token)} clips is out of range; ask for 1 to {MAX_LIMIT}.")
    return value


def _status(value: str) -> str:
    status = value.strip().upper()
    if status not in STATUSES:
        raise BadText(
            f"`status:{shown(value)}` is not a clip status; use one of {', '.join(STATUSES)}."
        )
    return status
