"""Inbound Slack payloads, wrapped once in typed records so listeners never dig in raw JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CommandRequest:
    team_id: str
    channel_id: str
    user_id: str
    text: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CommandRequest:
        return cls(
            team_id=str(body.get("team_id", "")),
            channel_id=str(body.get("channel_id", "")),
            user_id=str(body.get("user_id", "")),
            text=str(body.get("text") or ""),
        )


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A button press: who pressed which button on which message."""

    team_id: str
    user_id: str
    channel_id: str
    message_ts: str
    action_id: str
    value: str
    block_id: str
    trigger_id: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ActionRequest:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        return cls(
            team_id=str((body.get("team") or {}).get("id", "")),
            user_id=str((body.get("user") or {}).get("id", "")),
            channel_id=str(
                container.get("channel_id") or (body.get("channel") or {}).get("id", "")
            ),
            message_ts=str(
                container.get("message_ts") or (body.get("message") or {}).get("ts", "")
            ),
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            block_id=str(action.get("block_id", "")),
            trigger_id=str(body.get("trigger_id", "")),
        )

    @property
    def seen_version(self) -> int:
        """The card version the presser was looking at (from the block_id `triage:N`)."""
        _, _, number = self.block_id.partition(":")
        return int(number) if number.isdigit() else 1 << 30


@dataclass(frozen=True, slots=True)
class NoteSubmission:
    """The Resolve / False alarm modal, submitted."""

    user_id: str
    clip_uuid: str
    channel_id: str
    action: str
    seen_version: int
    note: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> NoteSubmission | None:
        view = body.get("view") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "")
            clip_uuid, channel, action, version = meta["c"], meta["ch"], meta["a"], int(meta["v"])
        except (ValueError, KeyError, TypeError):
            return None
        values = ((view.get("state") or {}).get("values") or {}).get("note") or {}
        note = ((values.get("note") or {}).get("value") or "").strip()
        return cls(
            user_id=str((body.get("user") or {}).get("id", "")),
            clip_uuid=str(clip_uuid),
            channel_id=str(channel),
            action=str(action),
            seen_version=version,
            note=note or None,
        )
