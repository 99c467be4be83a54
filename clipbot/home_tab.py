"""The App Home tab, a pure builder: health, subscriptions, running mutes and the newest clips
in, a Home view (Block Kit, within a view's 100 blocks) out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clipbot.access import Access
from clipbot.blocks import VIEW_BLOCKS, context, escape, fitted, section
from clipbot.records import Clip
from clipbot.replies import clip_line, subscription_line
from clipbot.state import Health, Subscription
from clipbot.status import health_lines

HOME_CHARS = 40_000  # a Home tab has no message-size limit, only blocks and section lengths
# Blocks each part may take: with the header, dividers, "…and N more" notes and the recent
# clips, the whole stays within VIEW_BLOCKS.
HEALTH_BLOCKS, MUTE_BLOCKS = 10, 6  # 6 sections of mutes: less than /clips status shows
SUBSCRIPTION_BLOCKS = VIEW_BLOCKS - HEALTH_BLOCKS - MUTE_BLOCKS - 8


def home_view(
    health: Health,
    subs: list[Subscription],
    recent: list[tuple[Clip, tuple[str, ...]]] | str,
    now_ms: int,
    poll_seconds: int,
    console_url: str,
    access: Access,
    figures: Sequence[str] = (),
    muted: Sequence[str] = (),
) -> dict[str, Any]:
    """The App Home tab: health (with `figures`, the metrics' reading), subscriptions, running
    mutes (`muted`: a heading line, then a line each; see clipbot.slack.mutes.status_lines), and
    the five newest clips (or why not), within the 100 blocks of a Home tab; subscriptions and
    mutes past what fits are counted, not cut."""
    sub_lines = [subscription_line(s, access) for s in subs] or [
        "None yet. Use `/clips subscribe` in a channel."
    ]
    flagged = [s for s in subs if access.flagged(s)]
    health_blocks, _ = fitted(
        health_lines(health, now_ms, poll_seconds, flagged, figures),
        max_blocks=HEALTH_BLOCKS,
        max_chars=HOME_CHARS,
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "clipbot"}},
        *health_blocks,
        {"type": "divider"},
        *_part(
            ["*Subscriptions*", *sub_lines],
            SUBSCRIPTION_BLOCKS,
            "`/clips subscriptions` lists them all.",
        ),
    ]
    if muted:
        more = "`/clips status` lists more of them."
        blocks += [{"type": "divider"}, *_part(list(muted), MUTE_BLOCKS, more)]
    blocks.append({"type": "divider"})
    if isinstance(recent, str):
        body = f":warning: {escape(recent)}"
    else:
        body = (
            "\n".join(clip_line(c, names, console_url) for c, names in recent)
            or "No saved clips yet."
        )
    blocks.append(section("*Recent clips*\n" + body))
    return {"type": "home", "blocks": blocks}


def _part(lines: list[str], max_blocks: int, where: str) -> list[dict[str, Any]]:
    """A heading and its lines in at most `max_blocks` sections, then "…and N more" and
    `where` the rest are listed, when some did not fit."""
    blocks, left = fitted(lines, max_blocks=max_blocks, max_chars=HOME_CHARS)
    if left:
        blocks.append(context(f"…and {left} more. {where}"))
    return blocks
