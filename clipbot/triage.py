"""Triage: what a button press does to a card's state, decided from the store, never the message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clipbot import blocks, replying
from clipbot.notify import SlackPoster
from clipbot.redraw import redraw
from clipbot.state import CLAIMED, CLOSED_STATES, FALSE_ALARM, OPEN, RESOLVED, Card
from clipbot.store import Store

CLAIM, RESOLVE, FALSE_ALARM_ACTION, REOPEN = "claim", "resolve", "false_alarm", "reopen"
TARGET = {CLAIM: CLAIMED, RESOLVE: RESOLVED, FALSE_ALARM_ACTION: FALSE_ALARM, REOPEN: OPEN}
DONE_BY = {RESOLVED: "resolved by", FALSE_ALARM: "marked a false alarm by"}


@dataclass(frozen=True, slots=True)
class Outcome:
    """Either the new card and the thread line recording it, or why nothing changed."""

    card: Card | None = None
    thread_text: str | None = None
    refusal: str | None = None


def refusal(card: Card, action: str, user: str, seen_version: int) -> str | None:
    """Why this press changes nothing, or None when it should go ahead."""
    if action == REOPEN:
        return (
            None
            if card.state in CLOSED_STATES
            else "This clip is not resolved, so there is nothing to reopen."
        )
    # Claim on a closed card reopens it as the presser's, unless they saw it open (a race).
    if card.state in CLOSED_STATES and (action != CLAIM or seen_version < card.version):
        return (
            f"This clip was already {DONE_BY[card.state]} <@{card.state_by}>. Press Reopen first."
        )
    if action == CLAIM and card.state == CLAIMED:
        if card.owner == user:
            return "You have already claimed this clip."
        if seen_version < card.version:
            # The presser saw an older card: this is a race, not a deliberate takeover.
            return f"Already claimed by <@{card.owner}>; press Claim again to take it over."
    return None


def thread_line(card: Card, action: str, user: str, note: str | None, at_ms: int) -> str:
    """The thread reply recording a press: who did what, and when."""
    if action == CLAIM and card.state == CLAIMED and card.owner:
        what = f"took this clip over from <@{card.owner}>"
    elif action == CLAIM and card.state in CLOSED_STATES:
        what = "reopened and claimed this clip"
    else:
        what = {
            CLAIM: "claimed this clip",
            RESOLVE: "resolved this clip",
            FALSE_ALARM_ACTION: "marked this clip a false alarm",
            REOPEN: "reopened this clip",
        }[action]
    line = f"<@{user}> {what} · {blocks.slack_date(at_ms, '{date_short_pretty} at {time}')}"
    if note:
        line += f"\n> {blocks.escape(blocks.cut(note, 1000))}"
    return line


def apply(
    store: Store,
    card: Card,
    action: str,
    user: str,
    *,
    seen_version: int,
    note: str | None,
    at_ms: int,
) -> Outcome:
    """Stores the press if it still makes sense; a lost race is decided again on the new state."""
    for _ in range(3):
        reason = refusal(card, action, user, seen_version)
        if reason:
            return Outcome(refusal=reason)
        line = thread_line(card, action, user, note, at_ms)
        changed = store.transition(
            card, state=TARGET[action], user=user, at_ms=at_ms, action=action, note=note
        )
        if changed:
            return Outcome(card=changed, thread_text=line)
        fresh = store.card(card.clip.uuid, card.channel_id)
        if fresh is None:
            break
        card = fresh
    return Outcome(refusal="Someone else is changing this clip right now; try again.")


def press(
    store: Store,
    poster: SlackPoster,
    card: Card,
    action: str,
    user: str,
    *,
    seen_version: int,
    note: str | None,
    at_ms: int,
    console_url: str,
    share: bool = True,
    video_max_bytes: int = 0,
) -> str | None:
    """Applies a press and shows it (card redrawn, one thread reply); the refusal, if any."""
    outcome = apply(store, card, action, user, seen_version=seen_version, note=note, at_ms=at_ms)
    changed = outcome.card
    if changed is None or changed.ts is None:
        return outcome.refusal
    redraw(
        store,
        poster,
        card.clip.uuid,
        card.channel_id,
        console_url,
        share=share,
        video_max_bytes=video_max_bytes,
    )
    replying.reply(
        store,
        poster,
        channel=card.channel_id,
        thread_ts=changed.ts,
        key=f"press:{card.channel_id}:{card.clip.uuid}:{changed.version}",
        text=outcome.thread_text or "",
        at_ms=at_ms,
    )
    return None


def remind_unclaimed(
    store: Store, poster: SlackPoster, *, minutes: int, now_ms: Callable[[], int]
) -> int:
    """One thread reply for each card left unclaimed `minutes` long; how many were sent. A card
    is marked reminded only once Slack has the reminder: one Slack refused is tried again on
    the next run, one in doubt once `replying.settle` has found or re-sent it."""
    if minutes <= 0:
        return 0
    sent = 0
    for card in store.reminders_due(now_ms() - minutes * 60_000):
        if card.ts is None:
            continue
        sub = store.subscription(card.channel_id)
        who = f"<@{sub.created_by}>, can" if sub else "Can"
        key = f"remind:{card.channel_id}:{card.clip.uuid}"
        posted = replying.reply(
            store,
            poster,
            channel=card.channel_id,
            thread_ts=card.ts,
            key=key,
            text=f":bell: Still unclaimed after {minutes} minute{'' if minutes == 1 else 's'}. "
            f"{who} someone take a look?",
            at_ms=now_ms(),
        )
        if posted or store.reply_posted(key):
            store.mark_reminded(card)
        sent += posted
    return sent
