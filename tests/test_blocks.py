"""Block Kit output pinned by JSON snapshots (paste them into Block Kit Builder to see them)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clipbot import blocks
from clipbot.records import Clip
from clipbot.state import Card

SNAPSHOTS = Path(__file__).parent / "snapshots"
T0 = 1_764_000_000_000

CLIP = Clip(
    uuid="CLIPUUID00000000000001",
    title="Forklift <fast> & loud",
    description="Saved from the *dock* review",
    created_at_ms=T0,
    timestamp_ms=T0 - 90_000,
    duration_sec=95,
    status="COMPLETE",
    camera_ids=("CAM0000000000000000002", "CAM0000000000000000001"),
    user_uuid="USER000000000000000001",
)
CARD = Card(
    clip=CLIP,
    channel_id="C1",
    posted_at_ms=T0 + 5000,
    ts="1700000000.000001",
    camera_names=("Loading Dock", "Front Door"),
    saved_by="Dana Guard",
    thumbnail_file_id="F0001",
)


def assert_snapshot(name: str, value: Any) -> None:
    """`value` equals the stored snapshot; UPDATE_SNAPSHOTS=1 rewrites it (then review the diff)."""
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert json.loads(path.read_text()) == value


class TestSnapshots:
    def test_open_card(self) -> None:
        """A fresh card: facts, thumbnail, unclaimed, four buttons."""
        assert_snapshot("card_open", blocks.clip_card(CARD, "https://console.rhombussystems.com"))

    def test_resolved_card(self) -> None:
        """A resolved card shows who, when and the note, with Reopen."""
        resolved = replace(
            CARD,
            state="resolved",
            state_by="U2",
            state_at_ms=T0 + 60_000,
            note="Driver warned",
            version=2,
        )
        assert_snapshot(
            "card_resolved", blocks.clip_card(resolved, "https://console.rhombussystems.com")
        )

    def test_digest(self) -> None:
        """A digest lists each clip on a line."""
        cards = [
            Card(
                clip=Clip(f"C{i}", title=f"Clip {i}", created_at_ms=T0 + i * 60_000),
                channel_id="C1",
                posted_at_ms=T0,
                camera_names=("Front Door",),
            )
            for i in range(3)
        ]
        assert_snapshot("digest", blocks.digest(cards, "https://console.rhombussystems.com"))


class TestLimits:
    def test_long_text_is_cut(self) -> None:
        """Very long titles and descriptions stay within Block Kit's limits."""
        huge = Clip("X", title="T" * 5000, description="D" * 10_000, camera_ids=("CAM",))
        message = blocks.clip_card(Card(clip=huge, channel_id="C1", posted_at_ms=0), "https://c")
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if "text" in b)
        assert len(json.dumps(message)) < 13_000

    @pytest.mark.parametrize(
        ("seconds", "text"), [(None, "unknown"), (5, "5s"), (65, "1m 05s"), (3600, "60m 00s")]
    )
    def test_duration(self, seconds: int | None, text: str) -> None:
        """Durations read naturally."""
        assert blocks.duration(seconds) == text

    def test_no_camera_links_to_console(self) -> None:
        """A clip without a camera links to the console itself."""
        assert blocks.console_link("https://c", Clip("X")) == "https://c"
