"""Pure Block Kit for burst grouping: a grouped clip's compact line in its card's thread."""

from __future__ import annotations

from clipbot.blocks import (
    Message,
    cameras_text,
    duration,
    escape,
    linked_title,
    mrkdwn,
    slack_date,
    thumbnail,
    title_of,
)
from clipbot.state import Card


def grouped_line(line: Card, console_url: str) -> Message:
    """One grouped clip: title (linked), when it was saved, duration, status, and its thumbnail
    where there is one. Edited in place when the clip's status changes."""
    clip = line.clip
    facts = " · ".join(
        (
            f"*{linked_title(console_url, clip)}*",
            slack_date(clip.created_at_ms, "{time}"),
            duration(clip.duration_sec),
            clip.status.title(),
        )
    )
    blocks = [
        {"type": "section", "text": mrkdwn(facts)},
        *thumbnail(line),
    ]
    text = f"Also from {cameras_text(line.camera_names)}: {escape(title_of(clip))}"
    return {"text": text, "blocks": blocks}
