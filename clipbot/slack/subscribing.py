"""`/clips subscribe` and `/clips unsubscribe` in the request's channel, and who may change
subscriptions and mutes there (CLIPBOT_ADMINS)."""

from __future__ import annotations

import contextlib
import itertools
import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import audit, replies
from clipbot.access import PRIVATE_NEEDS_ADMINS
from clipbot.blocks import Message
from clipbot.notify import ChannelBroken
from clipbot.query import SubscribeQuery
from clipbot.rhombus import RhombusError
from clipbot.slack.deps import Deps
from clipbot.slack.requests import CommandRequest
from clipbot.slack_errors import ARCHIVED, slack_error
from clipbot.state import AuditKind, Subscription

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
NOT_A_CHANNEL = (
    "Subscriptions need a channel; a direct message can't be subscribed. Run "
    "`/clips subscribe` in the channel that should get the clips."
)
AGAIN = (
    "Try again in a moment; if it keeps failing, ask whoever runs clipbot to run `clipbot check`."
)


def subscribe(query: SubscribeQuery, request: CommandRequest, deps: Deps) -> Message:
    """`/clips subscribe …`: the channel's subscription from the feed's newest clip on, said
    aloud in the channel first (which also proves clipbot may post there); the reply."""
    if refusal := admin_refusal(request, deps):
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
    """`/clips unsubscribe`: the channel's subscription removed, recorded and said aloud."""
    if refusal := admin_refusal(request, deps):
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


def _record(deps: Deps, kind: AuditKind, request: CommandRequest, details: str) -> None:
    audit.record(
        deps.store, kind, request.user_id, request.channel_id, deps.now_ms(), details=details
    )


def admin_refusal(request: CommandRequest, deps: Deps, what: str = "subscriptions") -> str | None:
    """The refusal for a user not in CLIPBOT_ADMINS (when it is set), naming the admins; None
    when they may change `what`."""
    if not deps.admins or request.user_id in deps.admins:
        return None
    return f"Sorry, only {mentions(deps.admins)} can change {what} here. Ask one of them to do it."


def mentions(users: frozenset[str]) -> str:
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
