"""The /clips grammar: command text in, a typed command or a typed error out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clipbot.mentions import Mention, MentionKind, mention_in, protect, restore, typed
from clipbot.quiet import MAX_MUTE_MS, Schedule, ScheduleError, schedule
from clipbot.records import STATUSES

DEFAULT_LIMIT, MAX_LIMIT = 10, 50
MAX_TEXT = 500
DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MAX_DURATION_MS = 366 * 86_400_000
# Slack (and phones) turn typed quotes into typographic ones; all count as plain double quotes.
QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
LIST_KEYS = ("camera", "since", "status")
SUBSCRIBE_KEYS = ("camera", "min", "private", "monitoring", "notify", "hours", "days", "group")
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


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the command as the user typed it, and the Slack mention it is (or holds
    after `key:`), for the options that take one."""

    text: str
    mention: Mention | None = None


class _Bad(Exception):
    pass


def parse(text: str) -> Command | ParseError:
    """The command Slack's command `text` (HTML-escaped, mentions as `<…>` tokens) stands for,
    or what is wrong with it."""
    try:
        return _parse(text)
    except _Bad as bad:
        return ParseError(str(bad))


def _parse(text: str) -> Command:
    length = len(typed(text))
    if length > MAX_TEXT:
        raise _Bad(f"That is {length} characters; /clips takes at most {MAX_TEXT}.")
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
            raise _Bad(f"`{head}` takes nothing after it (got `{_shown(words[1])}`).")
        return Verb(head)
    return _list(words[1:] if head == "recent" else words)


def tokenize(text: str) -> list[str]:
    """The words of Slack's command text as typed (see `tokens`)."""
    return [token.text for token in tokens(text)]


def tokens(text: str) -> list[Token]:
    """Splits Slack's command text on whitespace, HTML escaping undone; double quotes
    (typographic too) keep spaces inside one token; a mention is one token, read as `@name`."""
    protected, found = protect(text)
    result: list[Token] = []
    for match in re.finditer(r'(?:[^\s"]+|"[^"]*"?)+', protected.translate(QUOTES)):
        token = match.group(0)
        if token.count('"') % 2:
            raise _Bad(f"A quote is not closed in `{_shown(restore(token, found))}`.")
        token = token.replace('"', "")
        result.append(Token(restore(token, found), mention_in(token, found)))
    return result


def _list(tokens: list[str]) -> ListQuery:
    values: dict[str, str] = {}
    limit: int | None = None
    words: list[str] = []
    for token in tokens:
        key, value = _split(token, LIST_KEYS)
        if key:
            if key in values:
                raise _Bad(f"`{key}:` is given twice.")
            values[key] = value
        elif re.fullmatch(r"[+-]?[0-9]+", token):  # -1 is a count out of range, not a word
            if limit is not None:
                raise _Bad(f"Only one number of clips, please (got {limit} and {token}).")
            limit = _limit(token)
        elif token:
            words.append(token)
    return ListQuery(
        limit=DEFAULT_LIMIT if limit is None else limit,
        camera=_name(values["camera"]) if "camera" in values else None,
        since_ms=duration_ms(values["since"], "since") if "since" in values else None,
        status=_status(values["status"]) if "status" in values else None,
        words=tuple(words),
    )


def _subscribe(tokens: list[Token]) -> SubscribeQuery:
    values: dict[str, str] = {}
    notify: str | None = None
    for token in tokens:
        key, value = _split(token.text, SUBSCRIBE_KEYS)
        if not key:
            raise _Bad(
                f"`subscribe` does not take `{_shown(token.text)}`; it takes camera:NAME, "
                "min:DURATION, private:yes, hours:HH:MM-HH:MM, days:DAYS, group:DURATION and "
                "notify:@someone."
            )
        if key in values:
            raise _Bad(f"`{key}:` is given twice.")
        values[key] = value
        if key == "notify":
            notify = _notify(token)
    minimum = duration_ms(values["min"], "min") // 1000 if "min" in values else None
    return SubscribeQuery(
        camera=_name(values["camera"]) if "camera" in values else None,
        min_duration_sec=minimum,
        include_private=_yes_no(values, "private"),
        include_monitoring=_yes_no(values, "monitoring"),
        notify=notify,
        schedule=_schedule(values.get("hours"), values.get("days")),
        group_ms=_group(values["group"]) if "group" in values else None,
    )


def _group(value: str) -> int:
    window = duration_ms(value, "group")
    if window > MAX_GROUP_MS:
        raise _Bad(f"`group:{_shown(value)}` is too long; group clips within at most 24h.")
    return window


def _schedule(hours: str | None, days: str | None) -> Schedule | None:
    try:
        return schedule(hours, days)
    except ScheduleError as exc:
        raise _Bad(str(exc)) from None


def _mute(verb: str, words: list[str]) -> MuteQuery | UnmuteQuery:
    values: dict[str, str] = {}
    for word in words:
        key, value = _split(word, MUTE_KEYS if verb == "mute" else MUTE_KEYS[:1])
        if not key or key in values:
            raise _Bad(f"`{verb}` takes camera:NAME{' and for:DURATION' * (verb == 'mute')}.")
        values[key] = value
    camera = _name(values["camera"]) if "camera" in values else None
    if verb == "unmute":
        return UnmuteQuery(camera)
    if camera is None or "for" not in values:
        raise _Bad(
            "`mute` needs a camera and how long: /clips mute camera:NAME for:2h (at most 7d)."
        )
    text = values["for"].strip().casefold()
    known = DURATION.match(text)
    if re.fullmatch(r"\d{1,9}(y|yrs?|years?|mo|months?)", text) or (
        known and int(known.group(1)) * UNIT_MS[known.group(2)] > MAX_MUTE_MS
    ):
        raise _Bad(f"`for:{_shown(text)}` is too long: a mute lasts at most 7 days (like for:2h).")
    return MuteQuery(camera, duration_ms(text, "for"))


def _notify(token: Token) -> str:
    """`notify:` names a person or a user group, as a Slack mention: how messages write it."""
    mention = token.mention
    if mention is not None and mention.kind is not MentionKind.CHANNEL:
        return mention.mrkdwn
    value = token.text.partition(":")[2].strip()
    if mention is None and value.startswith("@") and value.casefold() not in BROADCASTS:
        raise _Bad(
            f"`notify:{_shown(value)}` arrived as plain text, not as a Slack mention: pick the "
            "person or group from the @ menu (the app's /clips command needs should_escape)."
        )
    raise _Bad(
        f"`notify:{_shown(value)}` is not a person or a user group; "
        "use notify:@someone or notify:@team."
    )


def _window(tokens: list[str], verb: str) -> tuple[int, str] | None:
    """The one optional duration after `verb` (milliseconds, and as typed), or None."""
    if len(tokens) > 1:
        raise _Bad(f"`{verb}` takes one duration, like 24h or 7d (got `{_shown(tokens[1])}`).")
    if not tokens:
        return None
    text = tokens[0].removeprefix("since:")
    try:
        return duration_ms(text, verb), text.strip().casefold()
    except _Bad:
        raise _Bad(
            f"`{verb} {_shown(tokens[0])}`: give a duration up to 366d, like 24h or 7d."
        ) from None


def _split(token: str, keys: tuple[str, ...]) -> tuple[str | None, str]:
    """(key, value) for `key:value` tokens; (None, token) for anything else."""
    key, colon, value = token.partition(":")
    if not colon or not key.isalpha():
        return None, token
    key = key.casefold()
    if key not in keys:
        accepted = ", ".join(f"`{k}:`" for k in keys)
        raise _Bad(f"`{_shown(key)}:` is not a filter here; use {accepted}.")
    return key, value


def duration_ms(text: str, key: str) -> int:
    """`90m`, `24h`, `7d` (also `s` and `w`) in milliseconds."""
    match = DURATION.match(text.strip().casefold())
    if not match or int(match.group(1)) == 0:
        raise _Bad(
            f"`{key}:{_shown(text)}` is not a duration; "
            "use a number and a unit, like 90m, 24h or 7d."
        )
    ms = int(match.group(1)) * UNIT_MS[match.group(2)]
    if ms > MAX_DURATION_MS:
        raise _Bad(f"`{key}:{_shown(text)}` is too long; at most 366d.")
    return ms


def _limit(token: str) -> int:
    value = int(token)
    if not 1 <= value <= MAX_LIMIT:
        raise _Bad(f"{_shown(token)} clips is out of range; ask for 1 to {MAX_LIMIT}.")
    return value


def _name(value: str) -> str:
    if not value.strip():
        raise _Bad('`camera:` needs a name, like camera:dock or camera:"front door".')
    return value.strip()


def _status(value: str) -> str:
    status = value.strip().upper()
    if status not in STATUSES:
        raise _Bad(
            f"`status:{_shown(value)}` is not a clip status; use one of {', '.join(STATUSES)}."
        )
    return status


def _yes_no(values: dict[str, str], key: str) -> bool:
    if key not in values:
        return False
    value = values[key].strip().casefold()
    if value not in ("yes", "no"):
        raise _Bad(f"`{key}:` takes yes or no (got `{_shown(values[key])}`).")
    return value == "yes"


def _shown(text: str) -> str:
    """User text quoted back safely: short, and without backticks that would break formatting."""
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"
