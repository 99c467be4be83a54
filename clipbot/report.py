"""The daily summary's figures and their message, both pure: cards (+ now) in, figures and
Block Kit out. `/clips report` shows the same message ephemerally."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from clipbot.blocks import FIELD_LIMIT, Message, age, cut, escape, mrkdwn, plural, section
from clipbot.state import CLAIMED, CLOSED_STATES, FALSE_ALARM, OPEN, RESOLVED, Card, CardKind

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
TOP_CAMERAS = 5
SUMMARY_EVENT = "clipbot_summary"


@dataclass(frozen=True, slots=True)
class Figures:
    """What happened to the clips posted in one channel during a window ending now.

    Counts are of clips posted in the window, by their state now; times are in milliseconds
    from posting; `noisy_cameras` counts false alarms over `camera_window_ms`, most first.
    """

    window_ms: int
    camera_window_ms: int
    posted: int = 0
    open: int = 0
    claimed: tuple[tuple[str, int], ...] = ()  # (owner's user ID, clips), most first
    resolved: int = 0
    false_alarms: int = 0
    median_claim_ms: int | None = None
    median_resolve_ms: int | None = None
    noisy_cameras: tuple[tuple[str, int], ...] = ()  # (camera name, false alarms), most first

    @property
    def claimed_total(self) -> int:
        return sum(count for _, count in self.claimed)


def figures(
    cards: list[Card],
    first_claims: dict[str, int],
    *,
    now_ms: int,
    window_ms: int = DAY_MS,
    camera_window_ms: int = WEEK_MS,
) -> Figures:
    """The figures for `cards` (a channel's, posted at least `camera_window_ms` back).

    `first_claims` maps clip uuid → when it was first claimed (ms). "Time to resolve" runs
    until the clip was resolved or marked a false alarm, whichever closed it. A clip grouped
    into a card's thread counts as posted, in the state of its card (triage covers the group).
    """
    cards = _as_their_cards(cards)
    recent = [c for c in cards if c.posted_at_ms >= now_ms - window_ms]
    states = Counter(c.state for c in recent)
    owners = Counter(c.owner or "unknown" for c in recent if c.state == CLAIMED)
    claim_times = [
        first_claims[c.clip.uuid] - c.posted_at_ms for c in recent if c.clip.uuid in first_claims
    ]
    close_times = [
        c.state_at_ms - c.posted_at_ms
        for c in recent
        if c.state in CLOSED_STATES and c.state_at_ms is not None
    ]
    noisy: Counter[str] = Counter()
    for card in cards:
        if card.state == FALSE_ALARM and card.posted_at_ms >= now_ms - camera_window_ms:
            noisy.update(card.camera_names or ("no camera",))
    return Figures(
        window_ms=window_ms,
        camera_window_ms=camera_window_ms,
        posted=len(recent),
        open=states[OPEN],
        claimed=_most_first(owners),
        resolved=states[RESOLVED],
        false_alarms=states[FALSE_ALARM],
        median_claim_ms=_median(claim_times),
        median_resolve_ms=_median(close_times),
        noisy_cameras=_most_first(noisy)[:TOP_CAMERAS],
    )


def _as_their_cards(cards: list[Card]) -> list[Card]:
    """Thread lines in their card's triage state (a line whose card is not among `cards`
    keeps its own, open)."""
    by_uuid = {c.clip.uuid: c for c in cards if c.kind is CardKind.CARD}
    return [
        replace(
            c,
            state=by_uuid[c.group_of].state,
            state_at_ms=by_uuid[c.group_of].state_at_ms,
            owner=by_uuid[c.group_of].owner,
        )
        if c.kind is CardKind.LINE and c.group_of in by_uuid
        else c
        for c in cards
    ]


def summary_message(figs: Figures, heading: str) -> Message:
    """The summary as one message: a header, the counts, the noisiest cameras."""
    window = window_text(figs.window_ms)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(heading, 150)}},
        section(
            f"*{figs.posted} clip{plural(figs.posted)}* posted in this channel"
            f" in the last {window}."
            if figs.posted
            else f"No clips were posted in this channel in the last {window}."
        ),
    ]
    if figs.posted:
        blocks.append({"type": "section", "fields": [mrkdwn(f) for f in _fields(figs)]})
    blocks.append(section(_cameras(figs)))
    blocks.append(
        {
            "type": "context",
            "elements": [mrkdwn("Counts are of the clips posted in the window, as they are now.")],
        }
    )
    text = (
        f"{heading}: {figs.posted} clip{plural(figs.posted)} in the last {window},"
        f" {figs.open} open, "
        f"{figs.claimed_total} claimed, {figs.resolved} resolved, "
        f"{figs.false_alarms} false alarm{plural(figs.false_alarms)}"
    )
    return {"text": text, "blocks": blocks}


def summary_metadata(day: str) -> dict[str, Any]:
    """Message metadata that lets a restarted bot find a summary it may have posted."""
    return {"event_type": SUMMARY_EVENT, "event_payload": {"day": day}}


def summary_day(message: dict[str, Any]) -> str | None:
    """The day of a summary message found in channel history (by its metadata), else None."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") != SUMMARY_EVENT:
        return None
    day = (meta.get("event_payload") or {}).get("day")
    return str(day) if day else None


def window_text(ms: int) -> str:
    """`24 h`, `7 days`, `90 min`: a window's length in words."""
    if ms % DAY_MS == 0 and ms > DAY_MS:
        return f"{ms // DAY_MS} days"
    if ms % HOUR_MS == 0:
        return f"{ms // HOUR_MS} h"
    return f"{max(1, ms // 60_000)} min"


def _fields(figs: Figures) -> list[str]:
    owners = ", ".join(f"<@{owner}> {count}" for owner, count in figs.claimed)
    claimed = f"{figs.claimed_total}" + (f" — {owners}" if owners else "")
    return [
        cut(text, FIELD_LIMIT)
        for text in (
            f"*Open (unclaimed)*\n{figs.open}",
            f"*Claimed*\n{claimed}",
            f"*Resolved*\n{figs.resolved}",
            f"*False alarms*\n{figs.false_alarms}",
            f"*Median time to claim*\n{_time(figs.median_claim_ms)}",
            f"*Median time to resolve*\n{_time(figs.median_resolve_ms)}",
        )
    ]


def _cameras(figs: Figures) -> str:
    window = window_text(figs.camera_window_ms)
    if not figs.noisy_cameras:
        return f"*Most false alarms, last {window}*\nNo false alarms."
    lines = [f"• {escape(cut(name, 200))} — {count}" for name, count in figs.noisy_cameras]
    return f"*Most false alarms, last {window}*\n" + "\n".join(lines)


def _time(ms: int | None) -> str:
    return "—" if ms is None else age(ms)


def _median(values: list[int]) -> int | None:
    return int(statistics.median(values)) if values else None


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
