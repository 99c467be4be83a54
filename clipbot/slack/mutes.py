"""`/clips mute camera:NAME for:DURATION` and `/clips unmute [camera:NAME]`, per channel.

A mute holds back the camera's clips saved while it runs: they are counted, never posted; the
unmute reply and `/clips status` say how many, with a `since:` listing to see them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import audit
from clipbot.blocks import Message, escape, slack_date
from clipbot.notify import ChannelBroken
from clipbot.query import MuteQuery, UnmuteQuery
from clipbot.quiet import Mute
from clipbot.replies import text_reply
from clipbot.report import window_text
from clipbot.slack.deps import Deps
from clipbot.slack.requests import CommandRequest
from clipbot.state import AuditKind
from clipbot.store import Store

NOT_SUBSCRIBED = (
    "This channel has no subscription, so there is nothing to mute. Subscribe it first with "
    "`/clips subscribe`."
)


def answer(command: MuteQuery | UnmuteQuery, request: CommandRequest, deps: Deps) -> Message:
    """The reply to mute or unmute in the request's channel (admin check done by the caller)."""
    if isinstance(command, MuteQuery):
        return mute(command, request, deps)
    return unmute(command, request, deps)


def mute(query: MuteQuery, request: CommandRequest, deps: Deps) -> Message:
    if deps.store.subscription(request.channel_id) is None:
        return text_reply(NOT_SUBSCRIBED)
    now = deps.now_ms()
    muted = deps.store.mute(
        request.channel_id, query.camera, now, now + query.duration_ms, request.user_id
    )
    what = f"cameras matching “{escape(muted.camera)}”"
    until = slack_date(muted.until_ms)
    details = f"cameras matching “{muted.camera}” for {window_text(muted.until_ms - now)}"
    audit.record(
        deps.store, AuditKind.MUTE, request.user_id, request.channel_id, now, details=details
    )
    _announce(deps, request, f"<@{request.user_id}> muted {what} here until {until}.")
    return text_reply(
        f"Muted {what} in <#{request.channel_id}> until {until}: their clips are held back, "
        f"not posted, and counted. `/clips unmute camera:{escape(muted.camera)}` ends it sooner."
    )


def unmute(query: UnmuteQuery, request: CommandRequest, deps: Deps) -> Message:
    now = deps.now_ms()
    ended = deps.store.unmute(request.channel_id, query.camera, now)
    if not ended:
        what = f"No camera matching “{escape(query.camera)}” is" if query.camera else "Nothing is"
        return text_reply(
            f"{what} muted in <#{request.channel_id}>. `/clips status` lists the running mutes."
        )
    lines = [held_line(m, deps.store.held_count(m.id), now) for m in ended]
    cameras = ", ".join(f"“{m.camera}”" for m in ended)
    details = f"cameras matching {cameras}"
    audit.record(
        deps.store, AuditKind.UNMUTE, request.user_id, request.channel_id, now, details=details
    )
    _announce(deps, request, f"<@{request.user_id}> unmuted cameras matching {escape(cameras)}.")
    return text_reply(f"Unmuted in <#{request.channel_id}>:\n" + "\n".join(lines))


def held_line(mute: Mute, held: int, now_ms: int) -> str:
    """`• cameras matching “dock”: 3 clips held back — /clips camera:dock since:2h lists them`."""
    camera = escape(mute.camera)
    quoted = f'"{camera}"' if " " in camera else camera
    count = f"{held} clip{'' if held == 1 else 's'} held back"
    hint = f" — `/clips camera:{quoted} since:{since_text(now_ms - mute.start_ms)}` lists them"
    return f"• cameras matching “{camera}”: {count}" + (hint if held else "")


def status_lines(
    store: Store, channels: list[str], now_ms: int, until: Callable[[int], str] = slack_date
) -> list[str]:
    """`/clips status` and the Home tab: a heading, then each running mute of these channels,
    until when (`until` writes the epoch ms: in each reader's zone by default), and what it
    held; none without a running mute."""
    lines = []
    for mute in store.mutes(now_ms):
        if mute.channel_id in channels and mute.active(now_ms):
            line = held_line(mute, store.held_count(mute.id), now_ms).removeprefix("• ")
            lines.append(f"• <#{mute.channel_id}> muted until {until(mute.until_ms)}: {line}")
    return [":mute: *Muted*", *lines] if lines else []


def since_text(ms: int) -> str:
    """A `since:` duration that reaches back at least `ms`: `45m`, `3h`, `2d`."""
    minutes = max(1, -(-ms // 60_000))
    if minutes <= 90:
        return f"{minutes}m"
    hours = -(-minutes // 60)
    return f"{hours}h" if hours <= 48 else f"{-(-hours // 24)}d"


def _announce(deps: Deps, request: CommandRequest, text: str) -> None:
    """A visible line in the channel, so everyone there knows why a camera went quiet."""
    with contextlib.suppress(SlackApiError, SlackClientError, OSError, ChannelBroken):
        deps.poster.announce(request.channel_id, text)
