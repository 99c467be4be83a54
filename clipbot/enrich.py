"""The poll cycle's enrich step: planned batches become cards with every fact a card shows but
its thumbnail (camera names, who saved the clip); and a dry run's description."""

from __future__ import annotations

import logging

from clipbot import blocks
from clipbot.plan import Batch
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.state import Card, CardKind

log = logging.getLogger(__name__)


def cards(
    batches: list[Batch],
    names: dict[str, tuple[str, ...]],
    joins: dict[str, dict[str, str]],
    rhombus: RhombusClient,
    now_ms: int,
) -> list[list[Card]]:
    """Cards (and thread lines, for clips in `joins`: channel → clip uuid → its card's) with
    every fact but the thumbnail filled in, a list per batch; `names`: clip uuid → its camera
    names; `now_ms`: when they are posted (epoch ms)."""
    found = []
    for batch in batches:
        made = []
        for clip in batch.clips:
            group_of = joins.get(batch.channel_id, {}).get(clip.uuid)
            kind = CardKind.LINE if group_of else CardKind.CARD
            made.append(
                Card(
                    clip=clip,
                    channel_id=batch.channel_id,
                    posted_at_ms=now_ms,
                    kind=CardKind.DIGEST if batch.digest else kind,
                    group_of=group_of,
                    camera_names=names[clip.uuid],
                    saved_by=_saved_by(rhombus, clip),
                )
            )
        found.append(made)
    return found


def _saved_by(rhombus: RhombusClient, clip: Clip) -> str | None:
    try:
        return rhombus.user_name(clip.user_uuid)
    except RhombusError as exc:
        log.warning("could not look up who saved clip %s: %s", clip.uuid, exc)
        return None


def describe(batch: Batch, joins: dict[str, str]) -> str:
    """What a dry run says the batch would post, a line per clip (or one for a digest)."""
    if batch.digest:
        return f"{batch.channel_id}: a digest of {len(batch.clips)} clips"
    return "\n".join(
        f"{batch.channel_id}: {blocks.title_of(c)} ({c.uuid})"
        + (f" in the thread of {joins[c.uuid]}" if c.uuid in joins else "")
        for c in batch.clips
    )
