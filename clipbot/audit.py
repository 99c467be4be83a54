"""The audit trail: who subscribed, unsubscribed, muted, shared a link or uploaded a video.

Entries are written to the store as things happen (`record`), kept at least `KEEP_DAYS`, and
read back by `/clips audit` (admins only) and `clipbot audit` (the terminal, or CSV).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol, TextIO

from clipbot.blocks import (
    MESSAGE_BLOCKS,
    MESSAGE_CHARS,
    Message,
    context,
    cut,
    escape,
    fitted,
    section,
    slack_date,
)
from clipbot.report import window_text
from clipbot.state import AuditEntry, AuditKind

KEEP_DAYS = 90
KEEP_MS = KEEP_DAYS * 86_400_000
SLACK_LINES = 100  # at most this many entries in /clips audit; the rest is counted
CSV_FIELDS = ("at", "kind", "user", "channel", "details", "clip", "expires")
VERBS = {
    AuditKind.SUBSCRIBE: "subscribed",
    AuditKind.UNSUBSCRIBE: "unsubscribed",
    AuditKind.MUTE: "muted cameras in",
    AuditKind.UNMUTE: "unmuted cameras in",
    AuditKind.SHARE: "shared a login-free link in",
    AuditKind.VIDEO: "uploaded a video in",
}


class AuditStore(Protocol):
    def record_audit(self, entry: AuditEntry, *, prune_before_ms: int) -> None: ...


def record(
    store: AuditStore,
    kind: AuditKind,
    user_id: str,
    channel_id: str,
    at_ms: int,
    *,
    details: str = "",
    clip_uuid: str | None = None,
    expires_at_ms: int | None = None,
) -> AuditEntry:
    """Writes one entry (plain-text `details`) and forgets those older than KEEP_DAYS."""
    entry = AuditEntry(at_ms, kind, user_id, channel_id, details, clip_uuid, expires_at_ms)
    store.record_audit(entry, prune_before_ms=at_ms - KEEP_MS)
    return entry


def iso(ms: int) -> str:
    """A moment as ISO 8601 in UTC, to the millisecond: `2025-11-24T17:00:00.000+00:00`."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def write_csv(entries: Iterable[AuditEntry], out: TextIO) -> None:
    """The entries as CSV (RFC 4180, a header row of CSV_FIELDS), times in ISO 8601 UTC."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for e in entries:
        writer.writerow(
            {
                "at": iso(e.at_ms),
                "kind": e.kind.value,
                "user": e.user_id,
                "channel": e.channel_id,
                "details": e.details,
                "clip": e.clip_uuid or "",
                "expires": iso(e.expires_at_ms) if e.expires_at_ms is not None else "",
            }
        )


def terminal_line(entry: AuditEntry) -> str:
    """One entry for a person at a terminal, in local time."""
    head = f"{_local(entry.at_ms)}  {entry.kind.value:<11}  {entry.user_id}  {entry.channel_id}"
    return "  ".join([head, *_facts(entry, _local, str)])


def slack_reply(entries: list[AuditEntry], window_ms: int, since_text: str) -> Message:
    """`/clips audit`, newest first: the lines that fit one message, then "and N more" and
    the `clipbot audit` command that lists them all."""
    head = f"*Audit trail — last {window_text(window_ms)}*"
    if not entries:
        return {"response_type": "ephemeral", "text": f"{head}\nNothing was recorded."}
    lines = [_slack_line(e) for e in entries[:SLACK_LINES]]
    shown, left = fitted(lines, max_blocks=MESSAGE_BLOCKS - 2, max_chars=MESSAGE_CHARS - 500)
    blocks = [section(head), *shown]
    rest = len(entries) - (len(lines) - left)
    if rest:
        blocks.append(
            context(
                f"…and {rest} more. `clipbot audit --since {since_text}` lists them all "
                "in a terminal (`--csv` for a spreadsheet)."
            )
        )
    count = f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}"
    return {"response_type": "ephemeral", "text": count, "blocks": blocks}


def _slack_line(entry: AuditEntry) -> str:
    head = f"• {slack_date(entry.at_ms)} — <@{entry.user_id}> {VERBS[entry.kind]} "
    head += f"<#{entry.channel_id}>"
    return cut(" — ".join([head, *_facts(entry, slack_date, escape)]), 500)


def _facts(entry: AuditEntry, when: Callable[[int], str], text: Callable[[str], str]) -> list[str]:
    """Details, clip and expiry, with times shown by `when` and free text passed through `text`."""
    details = " ".join(entry.details.split())  # one line, whatever was typed
    facts = [text(cut(details, 200))] if details else []
    if entry.clip_uuid:
        facts.append(f"clip {text(entry.clip_uuid)}")
    if entry.expires_at_ms is not None:
        facts.append(f"expires {when(entry.expires_at_ms)}")
    return facts


def _local(ms: int | None) -> str:
    return f"{datetime.fromtimestamp((ms or 0) / 1000).astimezone():%Y-%m-%d %H:%M %Z}"
