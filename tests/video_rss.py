"""Run as `python -m tests.video_rss DB MEDIA_URL API_URL SLACK_API_URL`: presses Video on the
stored card of clip A in C1 and prints how far its peak RSS (VmHWM) rose above its RSS before the press, in bytes."""

from __future__ import annotations

import sys

import httpx
from slack_sdk import WebClient

from clipbot.config import Secret
from clipbot.notify import SlackPoster
from clipbot.rhombus import RhombusAuth, RhombusClient
from clipbot.store import SqliteStore
from clipbot.video import MB, VideoDesk
from tests.fakes.rhombus import API_KEY
from tests.fakes.slack import BOT_TOKEN


def status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as lines:
        line = next(x for x in lines if x.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def reset_peak() -> None:
    """Sets the peak RSS (VmHWM) back to the current RSS (Linux 4.0 and later)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def main(db: str, media_url: str, api_url: str, slack_url: str) -> None:
    store = SqliteStore(db)
    rhombus = RhombusClient(
        httpx.Client(timeout=30), RhombusAuth(Secret(API_KEY)), api_url, media_url
    )
    poster = SlackPoster(WebClient(token=BOT_TOKEN, base_url=slack_url))
    desk = VideoDesk(
        store,
        rhombus,
        poster,
        media_url=media_url,
        console_url="https://console.example.test",
        max_bytes=1024 * MB,
        now_ms=lambda: 0,
    )
    card = store.card("A", "C1")
    assert card is not None
    told: list[str] = []
    reset_peak()
    before = status("VmRSS")
    desk.press(card, "U1", told.append)
    growth = status("VmHWM") - before
    video = store.video("A")
    print(growth, video.size_bytes if video else None, told)


if __name__ == "__main__":
    main(*sys.argv[1:])
