"""The benchmark suite runs (toy sizes, no speed asserted), and the fakes' limits it relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bench import suite
from bench.harness import WriteCounter
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.world import T0, World


@pytest.mark.parametrize("name", ["idle", "catchup", "fanout", "memory", "commands"])
def test_benchmark_runs_at_toy_size(name: str) -> None:
    """Each benchmark drives the real code to the end; what it checks besides speed (every
    card posted, in order, one upload per clip...) holds even at a toy size."""
    result = suite.run(name, quick=True)
    assert result.figures
    correctness = [f for f in result.figures if f.met is not None and f.unit == ""]
    assert all(f.met for f in correctness), [(f.name, f.value) for f in correctness if not f.met]
    assert "|" in result.markdown()


def test_fake_slack_rate_limits_posts_per_channel_and_workspace() -> None:
    slack = FakeSlack(post_rate=1.0, post_burst=1.0, workspace_rate=1.0, workspace_burst=2.0)
    slack.start()
    try:
        web = WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
        web.chat_postMessage(channel="C1", text="one")
        with pytest.raises(SlackApiError) as again:
            web.chat_postMessage(channel="C1", text="two")  # C1's next post is due in 1 s
        assert (again.value.response.status_code, again.value.response["error"]) == (
            429,
            "ratelimited",
        )
        assert again.value.response.headers["Retry-After"] == "1"
        web.chat_postMessage(channel="C2", text="three")  # another channel: its own pace
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="C3", text="four")  # the workspace's 2 are spent
        assert [m.text for m in slack.posts()] == ["one", "three"]
        assert slack.ratelimited == ["C1", "C3"]
    finally:
        slack.stop()


def test_idle_cycle_writes_only_health(tmp_path: Path) -> None:
    """Nothing new: the cycle reads one feed page and writes the health record, nothing else."""
    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    world = World(rhombus, slack, tmp_path / "idle.db")
    try:
        rhombus.add(*(clip(f"I{i}", T0 + i * 1000) for i in range(5)))
        for n in range(3):
            world.subscribe(f"C{n}", start_ms=T0 - 1)
        assert world.poller.poll_once().posted == 15
        requests = len(rhombus.requests)
        writes = WriteCounter(world)
        world.poller.poll_once()
        assert (writes.transactions, writes.rows) == (1, 1)
        assert [r.path.rsplit("/", 1)[-1] for r in rhombus.requests[requests:]] == [
            "getSavedClipsV2"
        ]
    finally:
        world.close()
        rhombus.stop()
        slack.stop()


def test_channels_post_at_once_and_thumbnails_upload_at_once(tmp_path: Path) -> None:
    """8 channels get a new clip each side by side (not one after the other), and 3 clips'
    thumbnails are uploaded side by side, each once, ahead of the posts that show them."""
    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    world = World(rhombus, slack, tmp_path / "fan.db")
    try:
        for n in range(8):
            world.subscribe(f"C{n}", start_ms=T0 - 1)
        for uuid in ("A1", "A2", "A3"):
            rhombus.thumbnails[uuid] = THUMBNAIL
        rhombus.add(*(clip(u, T0 + i) for i, u in enumerate(("A1", "A2", "A3"))))
        slack.latency = 0.3
        assert world.poller.poll_once().posted == 24
        assert slack.most_at_once("chat.postMessage") == 8
        assert slack.most_at_once("files.getUploadURLExternal") == 3
        assert len(slack.called("files.getUploadURLExternal")) == 3
        assert all(world.posted_uuids(f"C{n}") == ["A1", "A2", "A3"] for n in range(8))
    finally:
        world.close()
        rhombus.stop()
        slack.stop()
