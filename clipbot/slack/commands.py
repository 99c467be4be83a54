"""The /clips slash command: acknowledged at once, then parsed and answered through
response_url."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App, Respond

from clipbot import audit, replies
from clipbot.blocks import Message
from clipbot.listing import Cursor, search
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
from clipbot.slack import mutes, subscribing
from clipbot.slack.ackfirst import AckFirst
from clipbot.slack.deps import Deps
from clipbot.slack.requests import CommandRequest
from clipbot.slack.subscribing import AGAIN as AGAIN  # also for the listing's failure
from clipbot.store import StoreUnavailable
from clipbot.summary import channel_report

AUDIT_NO_ADMINS = (
    "Only clipbot admins can see the audit trail, and none are configured: set CLIPBOT_ADMINS, "
    "or run `clipbot audit` where clipbot runs."
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
        return subscribing.subscribe(command, request, deps)
    if isinstance(command, ReportQuery):
        heading = f"Report — last {window_text(command.window_ms)}"
        message = channel_report(
            deps.store, request.channel_id, deps.now_ms(), command.window_ms, heading
        )
        return {"response_type": "ephemeral", **message}
    if isinstance(command, AuditQuery):
        return audit_trail(command, request, deps)
    if isinstance(command, MuteQuery | UnmuteQuery):
        refusal = subscribing.admin_refusal(request, deps, "mutes")
        return replies.text_reply(refusal) if refusal else mutes.answer(command, request, deps)
    if command.name == "unsubscribe":
        return subscribing.unsubscribe(request, deps)
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
        admins = subscribing.mentions(deps.admins)
        return replies.text_reply(
            f"Only clipbot admins ({admins}) can see the audit trail; ask one of them, or run "
            "`clipbot audit` where clipbot runs."
        )
    entries = deps.store.audit(deps.now_ms() - query.window_ms)
    return audit.slack_reply(entries, query.window_ms, query.since_text)
