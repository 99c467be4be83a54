"""Pure Block Kit builders for clip cards and digests: data in, message dict out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clipbot.records import Clip
from clipbot.state import CLAIMED, FALSE_ALARM, OPEN, RESOLVED, Card, digest_key

Message = dict[str, Any]

CLAIM, RESOLVE, FALSE_ALARM_ACTION, SHARE, REOPEN, VIDEO = (
    "clip_claim",
    "clip_resolve",
    "clip_false_alarm",
    "clip_share",
    "clip_reopen",
    "clip_video",
)
TRIAGE_BLOCK = "triage"
CLIP_EVENT, DIGEST_EVENT, REPLY_EVENT = "clipbot_clip", "clipbot_digest", "clipbot_reply"
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
TITLE_LIMIT = 150
CAMERAS_LIMIT = 120  # camera names shown in one line or field, then "+N more"
MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100  # Slack's block limits: a message; a modal or Home tab
# Text in one message's blocks: Slack refuses ~13k characters (msg_blocks_too_long); the rest
# is headroom for the blocks a builder adds around its lines.
MESSAGE_CHARS = 12_000
DIGEST_LINES = 40

STATE_LINES = {
    OPEN: "Unclaimed",
    CLAIMED: "Claimed by <@{user}>",
    RESOLVED: "Resolved by <@{user}>",
    FALSE_ALARM: "False alarm — <@{user}>",
}


def escape(text: str) -> str:
    """Text safe inside mrkdwn: `&`, `<` and `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` no longer than `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(ms: int | None, style: str = "{date_short_pretty} at {time}") -> str:
    """A date token each reader sees in their own time zone, with a UTC fallback."""
    if ms is None:
        return "unknown"
    seconds = ms // 1000
    fallback = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{seconds}^{style}|{fallback}>"


def local_time(ms: int, zone: ZoneInfo) -> str:
    """`Tue 1 Dec 18:30 (Europe/Berlin)`: epoch ms as a wall-clock time in `zone` (the team's,
    CLIPBOT_TIMEZONE), named, for a date every reader should see alike."""
    at = datetime.fromtimestamp(ms / 1000, zone)
    return f"{at:%a} {at.day} {at:%b %H:%M} ({zone.key})"


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def age(ms: int) -> str:
    """A length of time in milliseconds, roughly: `45m`, `3h 20m`, `4d`."""
    minutes = max(0, ms) // 60_000
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h {minutes % 60}m" if hours < 48 else f"{hours // 24}d"


def title_of(clip: Clip) -> str:
    return cut(clip.title or "Untitled clip", TITLE_LIMIT)


def console_link(console_url: str, clip: Clip) -> str:
    """The Rhombus console at the clip's first camera and footage time."""
    if not clip.camera_ids:
        return console_url
    at = clip.timestamp_ms if clip.timestamp_ms is not None else clip.created_at_ms
    return f"{console_url}/devices/cameras/{clip.camera_ids[0]}/?t={at}"


def linked_title(console_url: str, clip: Clip) -> str:
    return f"<{console_link(console_url, clip)}|{escape(title_of(clip))}>"


def cameras_text(names: tuple[str, ...], limit: int = CAMERAS_LIMIT) -> str:
    """Camera names for mrkdwn, as many as fit in about `limit` characters, then "+N more"."""
    if not names:
        return "no camera"
    shown = [names[0]]
    for name in names[1:]:
        if len(", ".join([*shown, name])) > limit:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return escape(cut(", ".join(shown), limit)) + (f" +{rest} more" if rest else "")


def clip_card(
    card: Card, console_url: str, *, share: bool = True, video_max_bytes: int = 0
) -> Message:
    """The whole card for one posted clip: facts, thumbnail, triage state and buttons.

    `share` False leaves the Share link and Video buttons out (CLIPBOT_SHARE=off); a private or
    role-restricted clip never gets Share link (clipbot makes no login-free link to one); Video
    shows only for a clip `offers_video` says can be uploaded under `video_max_bytes`.
    """
    clip = card.clip
    blocks: list[dict[str, Any]] = [
        section(f"*{linked_title(console_url, clip)}*" + _description(clip)),
        {"type": "section", "fields": _fields(card)},
    ]
    blocks += thumbnail(card)
    blocks.append({"type": "context", "elements": [mrkdwn(state_line(card))]})
    if card.grouped:
        camera = card.camera_names[0] if card.camera_names else "this camera"
        more = f"+{card.grouped} more clip{'' if card.grouped == 1 else 's'}"
        text = f":thread: {more} from {escape(cut(camera, 200))} in the thread"
        blocks.append({"type": "context", "elements": [mrkdwn(text)]})
    blocks.append(triage_buttons(card, share=share, video_max_bytes=video_max_bytes))
    return {"text": f"New clip: {escape(title_of(clip))}", "blocks": blocks}


def thumbnail(card: Card) -> list[dict[str, Any]]:
    """The card's thumbnail as an image block (none before it is uploaded)."""
    if not card.thumbnail_file_id:
        return []
    alt = cut(f"Thumbnail of {title_of(card.clip)}", 2000)
    return [{"type": "image", "slack_file": {"id": card.thumbnail_file_id}, "alt_text": alt}]


def mentioning(message: Message, notify: str | None) -> Message:
    """`message` mentioning the subscription's person or group (`<@U…>` or `<!subteam^S…>`)
    at the start of its text and in a last context line, so Slack notifies them (mobile
    notifications read the text, desktop ones the blocks); unchanged without one."""
    if not notify:
        return message
    blocks = [*message["blocks"], context(f":bell: {notify}")]
    return {"text": f"{notify} {message['text']}", "blocks": blocks}


def state_line(card: Card) -> str:
    line = STATE_LINES.get(card.state, card.state).format(user=card.state_by)
    if card.state != OPEN and card.state_at_ms is not None:
        line += f" · {slack_date(card.state_at_ms, '{date_short_pretty} {time}')}"
    if card.state in (RESOLVED, FALSE_ALARM) and card.note:
        line += f"\n> {escape(cut(card.note, 500))}"
    return line


def offers_video(clip: Clip, max_bytes: int) -> bool:
    """Whether the card gets a Video button: a COMPLETE clip not known to be over `max_bytes`
    (0: never); a clip of unknown size gets one and the download stops at the limit."""
    too_big = clip.byte_count is not None and clip.byte_count > max_bytes
    return max_bytes > 0 and clip.status == "COMPLETE" and not too_big


def triage_buttons(card: Card, *, share: bool = True, video_max_bytes: int = 0) -> dict[str, Any]:
    """The buttons for the card's state; block_id carries the version the presser saw."""
    uuid = card.clip.uuid
    buttons = [_button("Claim", CLAIM, uuid)]
    if card.state in (RESOLVED, FALSE_ALARM):
        buttons.append(_button("Reopen", REOPEN, uuid))
    else:
        buttons += [
            _button("Resolve", RESOLVE, uuid, style="primary"),
            _button("False alarm", FALSE_ALARM_ACTION, uuid),
        ]
    if share and not card.clip.is_private:  # a login-free link would leak a private clip
        buttons.append(_button("Share link", SHARE, uuid))
    if share and offers_video(card.clip, video_max_bytes):
        buttons.append(_button("Video", VIDEO, uuid))
    return {"type": "actions", "block_id": f"{TRIAGE_BLOCK}:{card.version}", "elements": buttons}


def clip_metadata(clip: Clip) -> dict[str, Any]:
    """Message metadata that lets a restarted bot find a card it may have posted."""
    return {"event_type": CLIP_EVENT, "event_payload": {"clip_uuid": clip.uuid}}


def digest(cards: list[Card], console_url: str) -> Message:
    """One message standing for many clips (oldest first): a line each while they fit in one
    Slack message, then how many more and the /clips command that lists them all."""
    lines = [
        f"• {linked_title(console_url, c.clip)} — {cameras_text(c.camera_names)} — "
        f"{slack_date(c.clip.created_at_ms)}"
        for c in cards[:DIGEST_LINES]
    ]
    blocks = [section(f"*{len(cards)} new clips* were saved while notifications caught up:")]
    # Room for the heading, the "and N more" line and a subscription's mention (`mentioning`).
    shown, left = fitted(lines, max_blocks=MESSAGE_BLOCKS - 3)
    blocks += shown
    rest = len(cards) - (len(lines) - left)
    if rest:
        # The oldest clip's age when the digest is made, so the command still finds every clip.
        age_ms = cards[0].posted_at_ms - min(c.clip.created_at_ms for c in cards)
        hours = max(1, -(-age_ms // 3_600_000)) + 1
        blocks.append(context(f"…and {rest} more. `/clips 50 since:{hours}h` lists them."))
    return {"text": f"{len(cards)} new clips", "blocks": blocks}


def digest_metadata(cards: list[Card]) -> dict[str, Any]:
    """Metadata that lets a restarted bot find a digest it may have posted: the digest's key
    (see state.digest_key; its clips are in the store under it) and how many clips it lists,
    a few dozen bytes however long the digest (the uuids of a 5,000-clip one were 200 KB)."""
    return {
        "event_type": DIGEST_EVENT,
        "event_payload": {"digest": digest_key(cards), "clip_count": len(cards)},
    }


def reply_metadata(key: str) -> dict[str, Any]:
    """Metadata on a thread reply, so one whose answer was lost can be found by its key."""
    return {"event_type": REPLY_EVENT, "event_payload": {"key": key}}


def _fields(card: Card) -> list[dict[str, Any]]:
    clip = card.clip
    facts = [
        ("Camera" if len(card.camera_names) < 2 else "Cameras", cameras_text(card.camera_names)),
        ("Saved", slack_date(clip.created_at_ms)),
        ("Footage starts", slack_date(clip.timestamp_ms)),
        ("Duration", duration(clip.duration_sec)),
        ("Status", clip.status.title()),
        ("Saved by", escape(card.saved_by or "unknown")),
    ]
    return [mrkdwn(cut(f"*{name}*\n{value}", FIELD_LIMIT)) for name, value in facts]


def _description(clip: Clip) -> str:
    return "\n" + escape(cut(clip.description, 1000)) if clip.description else ""


def fitted(
    lines: list[str], *, max_blocks: int, max_chars: int = MESSAGE_CHARS
) -> tuple[list[dict[str, Any]], int]:
    """Section blocks holding the first whole `lines` that fit in `max_blocks` blocks and
    `max_chars` characters in all; and how many lines were left out (never one cut midway)."""
    texts: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        line = cut(line, SECTION_LIMIT)  # a single line never outgrows one section
        joins = bool(texts) and len(texts[-1]) + 1 + len(line) <= SECTION_LIMIT
        if used + len(line) + 1 > max_chars or (not joins and len(texts) == max_blocks):
            return [section(t) for t in texts], len(lines) - index
        if joins:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
        used += len(line) + 1
    return [section(t) for t in texts], 0


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(cut(text, SECTION_LIMIT))]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(cut(text, SECTION_LIMIT))}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def plural(n: int) -> str:
    """The "s" a count of `n` takes in English ("" for exactly one)."""
    return "" if n == 1 else "s"
