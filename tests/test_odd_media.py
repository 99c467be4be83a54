"""A clip's media never stops the poll cycle: a location Rhombus sends that HTTP cannot use is
passed over for the region form, and a thumbnail that fails anyhow leaves its card without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.media import thumbnail_url, video_url
from clipbot.records import Clip
from clipbot.thumbnails import THUMBNAIL_RETRY_MS
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.slack import FakeSlack, Message
from tests.world import T0, World

MEDIA = "https://media.example.test"
UNPARSABLE = ["https://a:b:c/x.jpeg", "http://\x00/x.jpeg", "https://[::1/x.jpeg"]


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


class TestUnparsableMediaLocation:
    @pytest.mark.parametrize("location", UNPARSABLE)
    def test_region_form_instead(self, location: str) -> None:
        """A V2 location httpx refuses to parse is passed over for the region form, for the
        thumbnail and the MP4 alike."""
        record = Clip.from_api(clip("A", T0, thumbnailLocationV2=location, clipLocationV2=location))
        assert thumbnail_url(MEDIA, record) == f"{MEDIA}/media/metadata/us-west-2/A.jpeg"
        assert video_url(MEDIA, record) == f"{MEDIA}/media/metadata/us-west-2/A.mp4"

    def test_cycle_posts_the_clip_and_those_around_it(self, world: World) -> None:
        """Each cycle failed with httpx.InvalidURL before, so no channel got any clip again."""
        world.subscribe("C1")
        world.rhombus.add(
            clip("A", T0 + 1),
            clip("B", T0 + 2, thumbnailLocationV2=UNPARSABLE[0]),
            clip("C", T0 + 3),
        )
        world.rhombus.thumbnails["B"] = THUMBNAIL
        result = world.poller.poll_once()
        assert (result.posted, result.failed) == (3, [])
        assert world.posted_uuids("C1") == ["A", "B", "C"]
        (card,) = [m for m in world.slack.posts("C1") if m.text == "New clip: Clip B"]
        assert [b["type"] for b in card.blocks or []].count("image") == 1


class TestThumbnailFailure:
    def test_card_goes_without_it_and_gets_it_later(self, world: World) -> None:
        """A thumbnail whose fetch fails in a way nobody foresaw holds back neither its card nor
        the cycle: the card goes without the image, and a later cycle adds it."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1), clip("B", T0 + 2), clip("C", T0 + 3))
        for uuid in "ABC":
            world.rhombus.thumbnails[uuid] = THUMBNAIL
        fetch, failures = world.client.thumbnail, ["B"]

        def unforeseen(record: Clip) -> bytes | None:
            if record.uuid in failures:
                failures.remove(record.uuid)
                raise ValueError("an unforeseen failure")
            return fetch(record)

        world.client.thumbnail = unforeseen  # type: ignore[method-assign]
        result = world.poller.poll_once()
        assert (result.posted, result.failed) == (3, [])
        assert world.posted_uuids("C1") == ["A", "B", "C"]
        shown = {m.text: images(m) for m in world.slack.posts("C1")}
        assert [len(shown[f"New clip: Clip {u}"]) for u in "ABC"] == [1, 0, 1]
        world.now[0] += THUMBNAIL_RETRY_MS + 1
        world.poller.poll_once()
        (card,) = [m for m in world.slack.posts("C1") if m.text == "New clip: Clip B"]
        assert len(images(card)) == 1 and card.edits == 1


def images(message: Message) -> list[str]:
    return [b["slack_file"]["id"] for b in message.blocks or [] if b["type"] == "image"]
