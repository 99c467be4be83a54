"""The /clips slash command: acknowledged at once, then parsed and answered through
response_url."""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import replace
from typing import Any

from slack_bolt import App, Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import audit, replies
from clipbot.access import PRIVATE_NEEDS_ADMINS
from clipbot.blocks import Message
from clipbot.listing import Cursor, search
from clipbot.notify import ChannelBroken
from clipbot.query import (
    AuditQuery,
    ListQuery,
    MuteQuery,
    ParseError,
    ReportQuery,
    SubscribeQuery,
    UnmuteQuery,
    Verb,
    parse,
)
from clipbot.report import window_text
from clipbot.rhombus import RhombusError
from clipbot.slack import mutes
from clipbot.slack.ackfirst import AckFirst
from clipbot.slack.deps import Deps
from clipbot.slack.requests import CommandRequest
from clipbot.slack_errors import ARCHIVED, slack_error
from clipbot.state import AuditKind, Subscription
from clipbot.store import StoreUnavailable
from clipbot.summary import channel_report

log = logging.getLogger(__name__)

CANNOT_SEE = (
    "I can't post in this channel yet. In a private channel, invite me first with "
    "`/invite @clipbot`, then subscribe again."
)
ARCHIVED_CHANNEL = (
    "This channel is archived, so nothing can be posted in it and nothing was subscribed. "
    "Unarchive it first, or subscribe another channel."
)
NOT_IN_CHANNEL = (
    "I'm not a member of this channel, so I can't post in it yet. Invite me with "
    "`/invite @clipbot`, then subscribe again."
)
AUDIT_NO_ADMINS = (
    "Only clipbot admins can see the audit trail, and none are configured: set CLIPBOT_ADMINS, "
    "or run `clipbot audit` where clipbot runs."
)
NOT_A_CHANNEL = (
    "Subscriptions need a channel; a direct message can't be subscribed. Run "
    "`/clips subscribe` in the channel that should get the clips."
)
AGAIN = (
    "Try again in a moment; if it keeps failing, ask whoever runs clipbot to run `clipbot check`."
)
MORE_TTL_MS = 24 * 3_600_000  # how long a listing's More button keeps working
OPEN_PAGE = 25  # open clips per reply (each needs a permalink from Slack)


def register(app: App, deps: Deps, after_ack: AckFirst) -> None:
    @app.command("/clips")
    @after_ack
    def clips_command(body: dict[str, Any], respond: Respond) -> None:
        request = CommandRequest.from_body(body)
        command = parse(request.text)
        if isinstance(command, ParseError):
            respond(**replies.error_reply(command.message))
        elif command == Verb("help"):
            respond(**replies.help_reply())
        elif isinstance(command, ListQuery | SubscribeQuery):  # these wait on Rhombus
            after_ack.later(body, respond, lambda: respond(**answer(command, request, deps)))
        else:
            respond(**answer(command, request, deps))


def answer(
    command: ListQuery | SubscribeQuery | ReportQuery | AuditQuery | MuteQuery | UnmuteQuery | Verb,
    request: CommandRequest,
    deps: Deps,
) -> Message:
    """The reply to a parsed command (slow work allowed: the command is already acknowledged)."""
    if isinstance(command, ListQuery):
        return list_clips(command, request.text, deps)
    if isinstance(command, SubscribeQuery):
        return subscribe(command, request, deps)
    if isinstance(command, ReportQuery):
        heading = f"Report — last {window_text(command.window_ms)}"
        message = channel_report(
            deps.store, request.channel_id, deps.now_ms(), command.window_ms, heading
        )
        return {"response_type": "ephemeral", **message}
    if isinstance(command, AuditQuery):
        return audit_trail(command, request, deps)
    if isinstance(command, MuteQuery | UnmuteQuery):
        refusal = _admin_refusal(request, deps, "mutes")
        return replies.text_reply(refusal) if refusal else mutes.answer(command, request, deps)
    if command.name == "unsubscribe":
        return unsubscribe(request, deps)
    if command.name == "subscriptions":
        return subscriptions(request.team_id, deps)
    if command.name == "open":
        return open_clips(request.channel_id, deps)
    return status(request.team_id, deps)


def status(team_id: str, deps: Deps) -> Message:
    """The poller's health, running mutes, and this replica's part in it; says so when the
    database is down."""
    try:
        subs = deps.store.subscriptions(team_id)
        flagged = [s for s in subs if deps.access.flagged(s)]
        health = deps.store.health(deps.today_ms())
        muted = mutes.status_lines(deps.store, [s.channel_id for s in subs], deps.now_ms())
    except StoreUnavailable:
        return replies.text_reply(
            ":red_circle: *The database is unavailable*: this replica has stopped polling"
            " until it is back."
        )
    return replies.status_reply(
        health,
        deps.now_ms(),
        deps.poll_seconds,
        flagged,
        deps.figures(),
        replica=deps.replica(),
        muted=muted,
    )


def list_clips(query: ListQuery, text: str, deps: Deps, cursor: Cursor | None = None) -> Message:
    try:
        found = search(deps.rhombus, query, deps.now_ms(), cursor)
        fits = replies.listing_fits(found, deps.console_url)
        shortened = fits < len(found.clips)
        if shortened:
            # Long lines: list only what fits, so More carries on right after the last shown.
            found = search(deps.rhombus, replace(query, limit=fits), deps.now_ms(), cursor)
    except RhombusError as exc:
        return replies.text_reply(
            f":warning: Could not list clips: {str(exc).rstrip('.')}. {AGAIN}"
        )
    more = None
    if found.more:
        # The position stays here; the button carries a short key (its value is capped at 2000).
        more = deps.store.save_button_state(found.more.to_value(text), deps.now_ms(), MORE_TTL_MS)
    return replies.listing(
        found, text, deps.console_url, first_page=cursor is None, shortened=shortened, more=more
    )


def more_position(value: str, deps: Deps) -> tuple[ListQuery, str, Cursor] | None:
    """What a More button stands for: the query, its text and where the list stopped; None
    when the button is out of date (its state expired, or it is not a listing's)."""
    # A value holding the position itself is a button from before positions were kept here.
    state = value if value.startswith("{") else deps.store.button_state(value, deps.now_ms())
    decoded = Cursor.from_value(state) if state else None
    query = parse(decoded[0]) if decoded else None
    if decoded is None or not isinstance(query, ListQuery):
        return None
    return query, decoded[0], decoded[1]


def subscribe(query: SubscribeQuery, request: CommandRequest, deps: Deps) -> Message:
    if refusal := _admin_refusal(request, deps):
        return replies.text_reply(refusal)
    if query.include_private and not deps.admins:
        return replies.text_reply(PRIVATE_NEEDS_ADMINS)
    if request.channel_id.startswith("D"):
        return replies.text_reply(NOT_A_CHANNEL)
    try:
        start_ms, start_uuids = _feed_now(deps)
    except RhombusError as exc:
        return replies.text_reply(
            f":warning: Nothing was subscribed: could not reach Rhombus ({exc}). {AGAIN}"
        )
    sub = Subscription(
        channel_id=request.channel_id,
        team_id=request.team_id,
        created_by=request.user_id,
        created_at_ms=deps.now_ms(),
        start_ms=start_ms,
        start_uuids=start_uuids,
        camera=query.camera,
        min_duration_sec=query.min_duration_sec,
        include_private=query.include_private,
        include_monitoring=query.include_monitoring,
        notify=query.notify,
        schedule=query.schedule,
        group_ms=query.group_ms,
    )
    # The visible announcement doubles as the test that clipbot can post here at all. Only
    # Slack's own refusal stops the subscription: when its answer is lost (the connection
    # closed after sending), the channel may already read that it is subscribed.
    try:
        deps.poster.announce(request.channel_id, replies.announcement(request.user_id, sub))
    except ChannelBroken as broken:
        return replies.text_reply(_cannot_post(broken.reason))
    except SlackApiError as exc:
        return replies.text_reply(
            f":warning: Nothing was subscribed: Slack did not take the announcement here "
            f"({slack_error(exc)}). Try again in a moment."
        )
    except (SlackClientError, OSError) as exc:
        log.warning(
            "subscribing %s: no answer to its announcement (%s)",
            request.channel_id,
            slack_error(exc),
        )
    replaced = deps.store.subscribe(sub)
    _record(deps, AuditKind.SUBSCRIBE, request, replies.describe_subscription(sub, mrkdwn=False))
    return replies.subscribed(sub, replaced, deps.zone.key)


def _cannot_post(reason: str) -> str:
    """Why the subscription's announcement was refused (a Slack error code), and what to do."""
    if reason in ARCHIVED:
        return ARCHIVED_CHANNEL
    return NOT_IN_CHANNEL if reason == "not_in_channel" else CANNOT_SEE


def unsubscribe(request: CommandRequest, deps: Deps) -> Message:
    if refusal := _admin_refusal(request, deps):
        return replies.text_reply(refusal)
    removed = deps.store.unsubscribe(request.channel_id)
    if removed is None:
        return replies.text_reply(
            "This channel has no subscription, so there was nothing to remove. "
            "`/clips subscriptions` lists the channels that have one."
        )
    details = replies.describe_subscription(removed, mrkdwn=False)
    _record(deps, AuditKind.UNSUBSCRIBE, request, details)
    with contextlib.suppress(SlackApiError, SlackClientError, OSError, ChannelBroken):
        deps.poster.announce(
            request.channel_id, f"<@{request.user_id}> unsubscribed this channel from new clips."
        )
    return replies.text_reply(
        f"Unsubscribed <#{request.channel_id}> ({replies.describe_subscription(removed)})."
    )


def subscriptions(team_id: str, deps: Deps, after: str = "") -> Message:
    """The workspace's subscriptions after the one keyed `after` (see replies.subscription_key)."""
    subs = deps.store.subscriptions(team_id)
    later = [s for s in subs if _after(replies.subscription_key(s), after)]
    return replies.subscriptions_reply(later, deps.access, total=len(subs))


def open_clips(channel_id: str, deps: Deps, after: str = "") -> Message:
    """The channel's open clips after the one keyed `after` (see replies.open_key), a page."""
    cards = [c for c in deps.store.open_cards(channel_id) if _after(replies.open_key(c), after)]
    page = cards[:OPEN_PAGE]
    linked = [(card, deps.poster.permalink(card.channel_id, card.ts or "")) for card in page]
    return replies.open_reply(linked, deps.now_ms(), rest=len(cards) - len(page))


def _after(key: str, after: str) -> bool:
    """Whether `key` ("<ms>:<id>") comes after `after` in list order ("" is the start)."""
    if not after:
        return True
    ms, _, ident = key.partition(":")
    after_ms, _, after_ident = after.partition(":")
    if not (ms.isdigit() and after_ms.lstrip("-").isdigit()):
        return True
    return (int(ms), ident) > (int(after_ms), after_ident)


def audit_trail(query: AuditQuery, request: CommandRequest, deps: Deps) -> Message:
    """`/clips audit`: for admins only, newest first."""
    if not deps.access.is_admin(request.user_id):
        if not deps.admins:
            return replies.text_reply(AUDIT_NO_ADMINS)
        return replies.text_reply(
            f"Only clipbot admins ({_names(deps.admins)}) can see the audit trail; ask one of "
            "them, or run `clipbot audit` where clipbot runs."
        )
    entries = deps.store.audit(deps.now_ms() - query.window_ms)
    return audit.slack_reply(entries, query.window_ms, query.since_text)


def _record(deps: Deps, kind: AuditKind, request: CommandRequest, details: str) -> None:
    audit.record(
        deps.store, kind, request.user_id, request.channel_id, deps.now_ms(), details=details
    )


def _admin_refusal(request: CommandRequest, deps: Deps, what: str = "subscriptions") -> str | None:
    if not deps.admins or request.user_id in deps.admins:
        return None
    return f"Sorry, only {_names(deps.admins)} can change {what} here. Ask one of them to do it."


def _names(users: frozenset[str]) -> str:
    """`<@U1>, <@U2>`: Slack user IDs as mentions, in a stable order."""
    return ", ".join(f"<@{u}>" for u in sorted(users))


def _feed_now(deps: Deps) -> tuple[int, tuple[str, ...]]:
    """Where the feed is now: the newest createdAtMs and every clip saved at that instant,
    however many share it (the walk reads a page or two past them, no further)."""
    clips = deps.rhombus.recent()
    newest = next(clips, None)
    if newest is None:
        return 0, ()
    start = newest.created_at_ms
    tied = itertools.takewhile(lambda c: c.created_at_ms == start, clips)
    return start, (newest.uuid, *(c.uuid for c in tied))
