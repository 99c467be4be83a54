"""Thumbnails: one the media server did not have yet is added later; each is uploaded once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.records import Clip
from clipbot.thumbnails import Cancelled, Uploads
from tests.bolt import eventually
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


class TestReadAhead:
    """Thumbnails start while the feed is still being read (see clipbot.poller)."""

    @staticmethod
    def counting(world: World) -> list[tuple[int, str]]:
        """(feed pages asked for by then, clip uuid) for each thumbnail queued, in order."""
        queued: list[tuple[int, str]] = []
        uploads = world.poller.thumbnails.uploads

        def counted() -> Uploads:
            made = uploads()
            start = made.start

            def start_counted(c: Clip) -> None:
                queued.append((len(world.rhombus.calls("getSavedClipsV2")), c.uuid))
                start(c)

            made.start = start_counted  # type: ignore[method-assign]
            return made

        world.poller.thumbnails.uploads = counted  # type: ignore[method-assign]
        return queued

    def backlog(self, world: World, prefix: str) -> list[tuple[int, str]]:
        """12 clips with thumbnails for C1 (uuids `prefix`00..11); what `counting` records."""
        world.subscribe("C1", start_ms=T0)
        for i in range(12):
            world.rhombus.add(clip(f"{prefix}{i:02d}", T0 + 1 + i))
            world.rhombus.thumbnails[f"{prefix}{i:02d}"] = THUMBNAIL
        return self.counting(world)

    @pytest.mark.parametrize("order", ["desc", "asc"])
    def test_uploads_begin_before_the_walk_ends(
        self, order: str, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """12 clips in pages of 3: the first page's thumbnails are queued before the last page
        is asked for; every clip's image is uploaded once and each card shows its own."""
        rhombus.order = order
        world = World(rhombus, slack, tmp_path / "ahead.db", page_size=3)
        try:
            queued = self.backlog(world, "R")
            assert world.poller.poll_once().posted == 12
            pages = len(rhombus.calls("getSavedClipsV2"))
            assert queued[0][0] < pages - 1
            uploaded = [c["filename"] for c in slack.called("files.getUploadURLExternal")]
            assert sorted(uploaded) == [f"R{i:02d}.jpeg" for i in range(12)]
            cards = slack.posts("C1")
            assert [m.metadata["event_payload"]["clip_uuid"] for m in cards] == [  # type: ignore[index]
                f"R{i:02d}" for i in range(12)
            ]
            assert all(len(images(m)) == 1 for m in cards)
            assert len({images(m)[0] for m in cards}) == 12
        finally:
            world.close()

    def test_a_backlog_headed_for_a_digest_reads_ahead_at_most_the_threshold(
        self, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """Digest threshold 2, 12 clips in pages of 2 for one channel: thumbnails are queued
        ahead only for the first 2 (the count then passes the threshold); the channel gets one
        digest, and no card, so at most those 2 images are uploaded."""
        world = World(rhombus, slack, tmp_path / "digest.db", page_size=2, digest_threshold=2)
        try:
            queued = self.backlog(world, "D")
            result = world.poller.poll_once()
            assert (result.posted, result.digests) == (12, 1)
            assert sorted(uuid for _, uuid in queued) == ["D10", "D11"]  # newest-first feed
            assert len(slack.called("files.getUploadURLExternal")) <= 2
        finally:
            world.close()


class TestUploads:
    """The cycle's pool of thumbnail uploads (clipbot.thumbnails.Uploads)."""

    def test_oldest_first_each_once_and_dropped(self) -> None:
        """One worker, held on its first clip while four more are queued newest first (as a
        newest-first feed is read): they run oldest first, each once, asked again or not; a
        dropped clip never runs and says so; a clip never asked for has no file."""
        release, ran = threading.Event(), []

        def upload(c: Clip) -> str:
            ran.append(c.uuid)
            if c.uuid == "C9":
                release.wait(10)
            return f"F-{c.uuid}"

        uploads = Uploads(upload, workers=1)
        try:
            uploads.start(Clip("C9", created_at_ms=T0 + 9))
            assert eventually(lambda: ran == ["C9"])
            for n in (4, 3, 2, 1, 2):
                uploads.start(Clip(f"C{n}", created_at_ms=T0 + n))
            uploads.drop_except({"C9", "C1", "C2", "C4"})
            with pytest.raises(Cancelled):
                uploads.file_id("C3")
            release.set()
            files = [uploads.file_id(u) for u in ("C9", "C1", "C2", "C4", "C0")]
            assert files == ["F-C9", "F-C1", "F-C2", "F-C4", None]
            assert ran == ["C9", "C1", "C2", "C4"]
        finally:
            release.set()
            uploads.close()

    def test_widened_and_failures_handed_on(self) -> None:
        """widen() starts more workers at once for what is queued; an upload that raised
        raises again for whoever waits for its file; close() drops what never started."""
        hold = threading.Event()
        busy = {f"W{n}": threading.Event() for n in range(3)}

        def slow(c: Clip) -> str:
            busy[c.uuid].set()
            hold.wait(10)
            if c.uuid == "W2":
                raise OSError("upload cut")
            return c.uuid

        wide = Uploads(slow, workers=1)
        try:
            for n in range(3):
                wide.start(Clip(f"W{n}", created_at_ms=T0 + n))
            assert busy["W0"].wait(10) and not busy["W1"].is_set()
            wide.widen(3)  # the other two start at once, beside the first
            assert busy["W1"].wait(10) and busy["W2"].wait(10)
            hold.set()
            assert [wide.file_id("W0"), wide.file_id("W1")] == ["W0", "W1"]
            with pytest.raises(OSError, match="upload cut"):
                wide.file_id("W2")
        finally:
            hold.set()
            wide.close()
        late = Uploads(slow, workers=1)
        late.close()
        late.start(Clip("W0", created_at_ms=T0))
        with pytest.raises(Cancelled):
            late.file_id("W0")
