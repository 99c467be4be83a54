"""Pure builders for /clips replies and the App Home: data (and now) in, Block Kit out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clipbot.access import Access, flag_line
from clipbot.blocks import (
    MESSAGE_BLOCKS,
    Message,
    age,
    cameras_text,
    context,
    cut,
    duration,
    escape,
    fitted,
    linked_title,
    plural,
    slack_date,
    state_line,
)
from clipbot.listing import Found
from clipbot.mentions import typed
from clipbot.query import SubscribeQuery
from clipbot.records import Clip
from clipbot.report import window_text
from clipbot.slack_errors import channel_fix
from clipbot.state import Card, Health, Subscription
from clipbot.status import health_lines

MORE, OPEN_MORE, SUBSCRIPTIONS_MORE = "clips_more", "open_more", "subscriptions_more"
LIST_TITLE_LIMIT = 80
STATUS_MUTE_CHARS = 20_000  # running mutes in /clips status: the rest are counted

USAGE = """*Usage:* `/clips [what]`
• `/clips` or `/clips 20` or `/clips recent 20` — the most recent saved clips (default 10, max 50)
• `/clips camera:dock` — from cameras whose name contains “dock” (`camera:"front door"` with spaces)
• `/clips since:24h` — saved in the last 24 hours (also `30s`, `90m`, `7d`, `2w`; up to 366d)
• `/clips status:FAILED` — by status (INITIATING, UPLOADING, RENDERING, COMPLETE, FAILED, …)
• `/clips forklift` — free words, matched against title and description
• `/clips subscribe camera:dock min:30s private:yes` — post new clips here (filters optional)
• `/clips subscribe monitoring:yes` — alarm-monitoring clips too (left out otherwise)
• `/clips subscribe hours:18:00-07:00 days:mon-fri` — only clips saved then (quiet hours)
• `/clips subscribe group:2m notify:@team` — one camera's bursts in one thread; mention @team
• `/clips unsubscribe` — stop posting clips in this channel
• `/clips mute camera:dock for:2h` — hold back a camera's clips here (up to 7d); `/clips unmute`
• `/clips subscriptions` — this workspace's subscriptions
• `/clips open` — clips posted here that are not resolved or false alarms
• `/clips status` — is clipbot healthy?
• `/clips report 7d` — this channel's clips, claims, resolutions and noisiest cameras
• `/clips audit 7d` — admins: who subscribed, unsubscribed, muted, shared or uploaded, and when
• `/clips help` — this message"""


def text_reply(text: str) -> Message:
    return {"response_type": "ephemeral", "text": text}


def help_reply() -> Message:
    return text_reply(USAGE)


def error_reply(problem: str) -> Message:
    """A short message naming the problem, then the usage."""
    return text_reply(f":warning: {escape(problem)}\n\n{USAGE}")


def listing(
    found: Found,
    text: str,
    console_url: str,
    first_page: bool,
    shortened: bool = False,
    more: str | None = None,
) -> Message:
    """The matching clips, newest first, a line each, with a More button carrying `more` (the
    key of the saved position) when there are more. `shortened`: fewer clips than asked for
    were listed, to fit in one Slack message."""
    lines = listing_lines(found, console_url)
    notes = []
    if found.hidden:
        notes.append(
            f"{found.hidden} private or role-restricted clip{plural(found.hidden)} hidden."
        )
    if found.scan_limited:
        notes.append(f"Searched the last {found.scanned} clips; press More to search further back.")
    if shortened:
        notes.append("That is all that fits in one message; press More for the rest.")
    if not lines:
        where = f"`{escape(cut(typed(text), 100))}`" if text.strip() else "the feed"
        suggestion = "Try a wider filter, like `since:7d`, or fewer words." if text.strip() else ""
        head = f"No {'more ' if not first_page else ''}clips match {where}"
        looked = f" in the last {found.scanned} clips" if found.scan_limited else ""
        lines = [f"{head}{looked}. {suggestion}".strip()]
    blocks, _ = fitted(lines, max_blocks=MESSAGE_BLOCKS - 2)
    if notes:
        blocks.append(context(" ".join(notes)))
    if more:
        blocks.append(more_button(MORE, more))
    summary = f"{len(found.clips)} clip{plural(len(found.clips))}"
    return {"response_type": "ephemeral", "text": summary, "blocks": blocks}


def listing_lines(found: Found, console_url: str) -> list[str]:
    return [clip_line(c, found.names.get(c.uuid, ()), console_url) for c in found.clips]


def listing_fits(found: Found, console_url: str) -> int:
    """How many of the found clips one listing message can show (all, unless lines are long)."""
    lines = listing_lines(found, console_url)
    _, left = fitted(lines, max_blocks=MESSAGE_BLOCKS - 2)
    return len(lines) - left


def more_button(action_id: str, value: str) -> dict[str, Any]:
    """An actions block with one More button carrying `value` (at most 2000 characters)."""
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "More"},
        "action_id": action_id,
        "value": value,
    }
    return {"type": "actions", "elements": [button]}


def paged(
    lines: list[str], keys: list[str], total: int, *, noun: str, more_action: str
) -> list[dict[str, Any]]:
    """Blocks for one page of a longer list: the `lines` that fit (of `total` still to show),
    then "and N more" and a More button carrying the key of the last line shown."""
    blocks, left = fitted(lines, max_blocks=MESSAGE_BLOCKS - 2)
    shown = len(lines) - left
    if total > shown and shown:
        blocks.append(context(f"…and {total - shown} more {noun}."))
        blocks.append(more_button(more_action, keys[shown - 1]))
    return blocks


def clip_line(clip: Clip, names: tuple[str, ...], console_url: str) -> str:
    return (
        f"• *{linked_title(console_url, clip)}* — {cameras_text(names)} — "
        f"{slack_date(clip.created_at_ms)} — "
        f"{duration(clip.duration_sec)} — {clip.status.title()}"
    )


def describe_subscription(sub: Subscription | SubscribeQuery, *, mrkdwn: bool = True) -> str:
    """What a subscription takes, in words (escaped for mrkdwn, or plain for the audit trail)."""
    camera = (escape(sub.camera) if mrkdwn else sub.camera) if sub.camera else None
    parts = [f"cameras matching “{camera}”" if camera else "all cameras"]
    if sub.min_duration_sec:
        parts.append(f"at least {duration(sub.min_duration_sec)} long")
    if sub.include_private:
        parts.append("including private and role-restricted clips")
    if sub.include_monitoring:
        parts.append("including alarm-monitoring clips")
    if sub.group_ms:
        parts.append(f"grouping a camera's clips within {window_text(sub.group_ms)} in one card")
    if sub.notify:
        parts.append(f"notifying {sub.notify}")
    if sub.schedule:
        parts.append(f"only clips saved {sub.schedule.describe()}")
    return ", ".join(parts)


def subscribed(sub: Subscription, replaced: Subscription | None, zone: str = "") -> Message:
    """The subscribe reply; `zone` names CLIPBOT_TIMEZONE, where quiet hours are read."""
    text = f"Subscribed <#{sub.channel_id}> to new clips from {describe_subscription(sub)}."
    if sub.schedule and zone:
        text += f" Times are {zone} time."
    if replaced:
        text += f" This replaces the earlier subscription ({describe_subscription(replaced)})."
    return text_reply(text + " Clips saved before now are not posted.")


def announcement(user_id: str, sub: Subscription) -> str:
    return f"<@{user_id}> subscribed this channel to new clips from {describe_subscription(sub)}."


def subscriptions_reply(
    subs: list[Subscription], access: Access, total: int | None = None
) -> Message:
    """This workspace's subscriptions from some point on (`total`: how many there are in all),
    with More for those that did not fit; a `private:yes` no admin made is flagged."""
    if not subs:
        return text_reply("No channel is subscribed yet. Use `/clips subscribe` in a channel.")
    total = len(subs) if total is None else total
    blocks = paged(
        [subscription_line(s, access) for s in subs],
        [subscription_key(s) for s in subs],
        len(subs),
        noun="subscriptions",
        more_action=SUBSCRIPTIONS_MORE,
    )
    return {
        "response_type": "ephemeral",
        "text": f"{total} subscription{plural(total)}",
        "blocks": blocks,
    }


def subscription_key(sub: Subscription) -> str:
    """Where a subscription sits in the list's order (a More button's value)."""
    return f"{sub.created_at_ms}:{sub.channel_id}"


def subscription_line(sub: Subscription, access: Access) -> str:
    line = (
        f"• <#{sub.channel_id}> — {describe_subscription(sub)} — "
        f"by <@{sub.created_by}>, {slack_date(sub.created_at_ms)}"
    )
    if access.flagged(sub):
        line += f" — :warning: {flag_line(sub)}"
    if sub.broken:
        line += f" — :warning: cannot post here ({escape(sub.broken)}): {channel_fix(sub.broken)}"
    return line


def status_reply(
    health: Health,
    now_ms: int,
    poll_seconds: int,
    flagged: list[Subscription],
    figures: Sequence[str] = (),
    replica: str = "leader",
    muted: list[str] | None = None,
) -> Message:
    """/clips status: the poller's health, the metrics' `figures`, what running mutes hold back
    (`muted`), and whether the replica answering is the one that polls (`replica`: a
    clipbot.leader.Role value)."""
    lines = health_lines(health, now_ms, poll_seconds, flagged, figures)
    lines += _within(muted or [], STATUS_MUTE_CHARS, "running mutes")
    lines.append(f"This replica: {replica}")
    return text_reply("\n".join(lines))


def _within(lines: list[str], max_chars: int, noun: str) -> list[str]:
    """The first whole `lines` that fit in `max_chars`, then "…and N more `noun`." for the rest
    (Slack refuses a message `text` over 40,000 characters)."""
    used = 0
    for index, line in enumerate(lines):
        used += len(line) + 1
        if used > max_chars:
            return [*lines[:index], f"…and {len(lines) - index} more {noun}."]
    return lines


# Not "everything is resolved": a digest's clips have no buttons, so they are never listed here.
NO_OPEN_CARDS = "No open clip cards in this channel."


def open_reply(cards: list[tuple[Card, str | None]], now_ms: int, rest: int = 0) -> Message:
    """Open clips in the channel, oldest first, with state, owner, age and a link to each card;
    `rest` more open clips follow these, reached with More."""
    if not cards:
        return text_reply(NO_OPEN_CARDS)
    lines = []
    for card, permalink in cards:
        title = escape(cut(card.clip.title or "Untitled clip", LIST_TITLE_LIMIT))
        link = f"<{permalink}|{title}>" if permalink else title
        state = state_line(card).splitlines()[0]
        lines.append(f"• *{link}* — {state} — posted {age(now_ms - card.posted_at_ms)} ago")
    keys = [open_key(card) for card, _ in cards]
    total = len(cards) + rest
    return {
        "response_type": "ephemeral",
        "text": f"{total} open clip{plural(total)}",
        "blocks": paged(lines, keys, total, noun="open clips", more_action=OPEN_MORE),
    }


def open_key(card: Card) -> str:
    """Where a card sits in the open list's order (a More button's value)."""
    return f"{card.posted_at_ms}:{card.clip.uuid}"
