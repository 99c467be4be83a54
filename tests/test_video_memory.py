"""Memory stays flat while a large clip goes from the media server into Slack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.rhombus import FakeRhombus, Video, clip
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

BIG = 200 * 1024 * 1024


def test_200_mb_clip_uploads_with_flat_memory(
    rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
) -> None:
    """A 200 MB clip is streamed to disk and on to Slack by a separate process whose peak RSS
    grows by less than 20 MB (the fakes run here, so their memory is not counted)."""
    world = World(rhombus, slack, tmp_path / "clipbot.db")
    world.subscribe("C1")
    rhombus.add(clip("A", T0 + 1, byteCount=BIG))
    rhombus.videos["A"] = Video(BIG)
    world.poller.poll_once()
    world.close()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.video_rss",
            str(tmp_path / "clipbot.db"),
            rhombus.media_url,
            rhombus.api_url,
            slack.api_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    growth, size, told = done.stdout.strip().split(" ", 2)
    (file,) = slack.files.values()
    assert (size, file.received, file.thread_ts) == (str(BIG), BIG, slack.posts("C1")[0].ts)
    assert told == "['Fetching the video; it will appear in this thread shortly.']"
    print(f"peak RSS growth for a 200 MB clip: {int(growth) / 2**20:.1f} MB")
    assert int(growth) < 20 * 1024 * 1024, f"peak RSS grew by {int(growth) / 2**20:.1f} MB"
