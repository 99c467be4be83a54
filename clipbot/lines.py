"""Burst grouping in Slack: a grouped clip posted once as a line in its card's thread, and the
card edited to count its lines.

A line goes like a card (delivery.send): written down (reserved) before it is sent, confirmed
with its `ts` after. A line whose answer never came is in doubt; `settle` looks for it in its
card's thread by its metadata and confirms it, or releases it to be posted again. Confirming a
line counts it on its card in the same transaction (store.confirm); `show_counts` edits every
card whose count changed since its last edit, so a crash between the line and the edit only
delays the edit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import blocks
from clipbot.grouping import Parent, camera_of, group
from clipbot.notify import SlackPoster
from clipbot.records import Clip
from clipbot.slack_errors import refused_for_good, slack_error
from clipbot.state import Card, CardKind, Subscription
from clipbot.store import Store
from clipbot.threadline import grouped_line

log = logging.getLogger(__name__)

PARENTS_MS = 24 * 3_600_000  # how far back (by posting time) cards are looked at to be joined


def joins(store: Store, sub: Subscription, clips: list[Clip], now_ms: int) -> dict[str, str]:
    """Clip uuid → uuid of the card in `sub`'s channel whose thread it joins (grouping off:
    none). The decision is `grouping.group`'s; this reads the cards it decides from."""
    if not sub.group_ms or not clips:
        return {}
    parents = [
        Parent(card.clip.uuid, camera, card.clip.created_at_ms)
        for card in store.group_parents(sub.channel_id, now_ms - PARENTS_MS)
        if (camera := camera_of(card.clip)) is not None
    ]
    return group(clips, sub.group_ms, parents)


def parent_ts(store: Store, line: Card) -> str | None:
    """The ts of the card whose thread the line joins (None: that card is not posted)."""
    parent = store.card(line.group_of or "", line.channel_id)
    return parent.ts if parent is not None else None


def line_message(line: Card, console_url: str, thread_ts: str) -> blocks.Message:
    """The line as a message in the thread `thread_ts` (see threadline.grouped_line)."""
    return {**grouped_line(line, console_url), "thread_ts": thread_ts}


def settle(store: Store, poster: SlackPoster) -> None:
    """Settles lines in doubt: found in their card's thread → confirmed (and counted);
    certainly absent → released, so the next cycle posts them; Slack unreachable → later."""
    threads: dict[tuple[str, str], list[Card]] = defaultdict(list)
    for line in store.in_doubt():
        if line.kind is CardKind.LINE and line.group_of:
            threads[(line.channel_id, line.group_of)].append(line)
    for (channel, parent_uuid), lines in threads.items():
        parent = store.card(parent_uuid, channel)
        found = _in_thread(poster, channel, parent.ts) if parent and parent.ts else {}
        if found is None:
            continue
        for line in lines:
            if line.clip.uuid in found:
                store.confirm(channel, [line.clip.uuid], found[line.clip.uuid])
            else:
                store.release(channel, [line.clip.uuid])


def _in_thread(poster: SlackPoster, channel: str, thread_ts: str) -> dict[str, str] | None:
    """Clip uuid → ts of the lines in a card's thread; {} when Slack will not show the thread
    (post again rather than lose a line); None when Slack cannot be reached or is in trouble
    (ask later)."""
    try:
        return poster.find_in_thread(channel, thread_ts)
    except SlackApiError as exc:
        if refused_for_good(exc):
            log.warning(
                "cannot read a thread in %s (%s): posting lines again", channel, slack_error(exc)
            )
            return {}
        log.warning("cannot read a thread in %s (%s)", channel, slack_error(exc))
        return None
    except (SlackClientError, OSError) as exc:
        log.warning("cannot reach Slack to read a thread in %s (%s)", channel, slack_error(exc))
        return None


def show_counts(store: Store, redraw: Callable[[Card], bool]) -> int:
    """Edits (with `redraw`, the one way cards are redrawn) each card whose thread gained lines
    since its last edit; how many were edited."""
    edited = 0
    for card in store.group_counts_pending():
        if redraw(card):
            store.set_grouped_shown(card, card.grouped)
            edited += 1
    return edited
