"""Thumbnails: one the media server did not have yet is added later; each is uploaded once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World

MEDIA = "/media/metadata/us-west-2/A.jpeg"


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    w.rhombus.add(clip("A", T0 + 1))
    yield w
    w.close()


def images(message: Message) -> list[str]:
    return [b["slack_file"]["id"] for b in message.blocks or [] if b["type"] == "image"]


def media_asks(world: World) -> int:
    return sum(r.path == MEDIA for r in world.rhombus.requests)


class TestNotReadyYet:
    def test_added_on_a_later_cycle(self, world: World) -> None:
        """The media server answers 404 at the first poll and has the image a minute later: the
        card is posted without it, then edited to show it; the media server is asked at most
        once a minute meanwhile."""
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        assert (images(card), media_asks(world)) == ([], 1)
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.poller.poll_once()  # same minute: not asked again
        assert (images(card), media_asks(world)) == ([], 1)
        world.now[0] += 61_000
        world.poller.poll_once()
        (file_id,) = world.slack.uploads
        assert (images(card), media_asks(world), card.edits) == ([file_id], 2, 1)
        world.now[0] += 61_000
        world.poller.poll_once()
        assert (media_asks(world), card.edits) == (2, 1)

    def test_for_a_bounded_time(self, world: World) -> None:
        """After 30 minutes without a thumbnail, the media server is no longer asked."""
        world.poller.poll_once()
        for _ in range(40):
            world.now[0] += 61_000
            world.poller.poll_once()
        assert media_asks(world) == 30
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.now[0] += 61_000
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        assert (images(card), media_asks(world), world.slack.uploads) == ([], 30, {})


class TestUploadedOnce:
    def test_post_refused_then_retried(self, world: World) -> None:
        """A card whose post Slack refused is posted again next cycle with the same file: the
        image is uploaded once, leaving no orphan file in Slack."""
        world.rhombus.thumbnails["A"] = THUMBNAIL
        world.slack.fail("chat.postMessage", Reply.json({"ok": False, "error": "internal_error"}))
        world.poller.poll_once()
        assert world.slack.posts("C1") == []
        world.poller.poll_once()
        (card,) = world.slack.posts("C1")
        (file_id,) = world.slack.uploads
        assert images(card) == [file_id]
        assert len(world.slack.called("files.getUploadURLExternal")) == 1
