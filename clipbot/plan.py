"""Pure planning for a poll cycle: what each channel gets, and where each subscription stands after.

No I/O here: the poller reads the feed and the store, these functions decide, delivery sends.
Times are the feed's own `createdAtMs` (epoch milliseconds), never this machine's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from clipbot.quiet import Mute, sift
from clipbot.records import Clip
from clipbot.state import Subscription

# Clips can appear in the feed a little after their createdAtMs: each cycle looks this far
# behind the positions, and the cards table keeps anything seen twice from being posted twice.
LOOKBACK_MS = 120_000


@dataclass(frozen=True, slots=True)
class Batch:
    """The clips one channel gets this cycle, oldest first: one card each, or one digest."""

    channel_id: str
    clips: tuple[Clip, ...]
    digest: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """A cycle's plan: what each channel gets, and the clips a mute holds back (counted)."""

    batches: list[Batch] = field(default_factory=list)
    held: list[tuple[Mute, Clip]] = field(default_factory=list)


def wants(sub: Subscription, clip: Clip, camera_names: tuple[str, ...]) -> bool:
    """Whether the subscription should get this clip."""
    if clip.created_at_ms < sub.start_ms or (
        clip.created_at_ms == sub.start_ms and clip.uuid in sub.start_uuids
    ):
        return False
    if clip.is_private and not sub.include_private:
        return False
    if clip.is_monitoring_clip and not sub.include_monitoring:
        return False
    if sub.min_duration_sec and (clip.duration_sec or 0) < sub.min_duration_sec:
        return False
    return not sub.camera or any(sub.camera.casefold() in n.casefold() for n in camera_names)


def window_start(subs: Iterable[Subscription]) -> int:
    """Where this cycle starts reading the feed: a look-back behind the furthest-behind
    subscription. It only moves back while a subscription is held (failing or in doubt), and
    a channel that keeps failing is marked broken, so it stays bounded."""
    return max(0, min(s.since_ms for s in subs) - LOOKBACK_MS)


def plan(
    subs: Iterable[Subscription],
    clips: list[Clip],
    camera_names: Mapping[str, tuple[str, ...]],
    posted: Mapping[str, set[str]],
    digest_threshold: int,
    *,
    zone: tzinfo = UTC,
    mutes: Iterable[Mute] = (),
) -> Plan:
    """What each subscribed channel gets from `clips` (oldest first): the clips it wants, that
    its quiet hours (read in `zone`) let through and no mute holds back, and that it does not
    have yet (`posted`: channel → clip uuids it has, may have, or held back). More than
    `digest_threshold` of them go as one digest. Held clips are returned to be counted."""
    result = Plan()
    mutes = list(mutes)
    for sub in subs:
        wanted = [c for c in clips if wants(sub, c, camera_names.get(c.uuid, ()))]
        keep, held = sift(sub.channel_id, sub.schedule, wanted, camera_names, zone, mutes)
        have = posted.get(sub.channel_id, set())
        # A clip the channel already has stays there, even if a mute begun since covers it.
        result.held.extend((mute, clip) for mute, clip in held if clip.uuid not in have)
        todo = tuple(c for c in keep if c.uuid not in have)
        if todo:
            result.batches.append(Batch(sub.channel_id, todo, digest=len(todo) > digest_threshold))
    return result


def advance(
    subs: Iterable[Subscription], newest_ms: int | None, held_ms: Mapping[str, int]
) -> dict[str, int]:
    """Each subscription's new position: the newest createdAtMs read, or just before its
    earliest clip not delivered yet (`held_ms`: channel → that clip's createdAtMs, for clips
    that failed, were left by a shutdown, or are in doubt). Nothing read: nothing moves."""
    if newest_ms is None:
        return {}
    return {
        s.channel_id: min(newest_ms, held_ms[s.channel_id] - 1)
        if s.channel_id in held_ms
        else newest_ms
        for s in subs
    }
