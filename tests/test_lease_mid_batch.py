"""A leader that loses its lease in the middle of a batch posts nothing more, even a first
message it reserved ahead (delivery.reserve_first) and is still completing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot.records import Clip
from clipbot.thumbnails import Uploads
from tests.fakes.rhombus import THUMBNAIL, FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.world import T0, World


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    yield w
    w.close()


class TestLeaseLostMidBatch:
    def test_first_card_reserved_ahead_is_not_posted_after_the_lease_is_lost(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The lease runs out while a channel's first card waits for its thumbnail: the card
        is not posted by this replica (a new leader, finding the reservation in doubt and not in
        Slack, would post it too), its reservation is released, and the next leader's cycle
        posts it once."""
        for channel in ("C1", "C2"):
            world.subscribe(channel)
        world.rhombus.add(clip("A", T0 + 1))
        world.rhombus.thumbnails["A"] = THUMBNAIL
        lease = [True]
        world.poller.leading = lambda: lease[0]
        fetch, file_id = world.client.thumbnail, Uploads.file_id
        waiting = threading.Event()

        def waited_for(uploads: Uploads, uuid: str) -> str | None:
            waiting.set()  # a channel's first card, reserved ahead, waits for its thumbnail
            return file_id(uploads, uuid)

        def thumbnail_outlasting_the_lease(record: Clip) -> bytes | None:
            # A slow media server: the answer comes once the card waits for it, and the lease
            # has run out meanwhile.
            assert waiting.wait(10)
            lease[0] = False
            return fetch(record)

        monkeypatch.setattr(Uploads, "file_id", waited_for)
        world.client.thumbnail = thumbnail_outlasting_the_lease  # type: ignore[method-assign]
        world.poller.poll_once()
        assert world.slack.posts("C1") == [] and world.slack.posts("C2") == []
        assert world.store.in_doubt() == []
        assert world.store.cards("C1") == [] and world.store.cards("C2") == []
        lease[0] = True  # leading again (or another replica, on the same database)
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
        assert world.posted_uuids("C2") == ["A"]

    def test_card_answered_429_is_not_sent_again_after_the_lease_is_lost(
        self, world: World
    ) -> None:
        """Slack answers a card 429 with Retry-After, and the lease runs out during that wait:
        the card is not sent again by this replica (the new leader owns it now); it is released
        and posted once by the next leader's cycle."""
        world.subscribe("C1")
        world.rhombus.add(clip("A", T0 + 1))
        world.slack.fail(
            "chat.postMessage",
            Reply.json({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "2"}),
        )
        lease = [True]
        world.poller.leading = lambda: lease[0]

        def lose_the_lease_once_answered_429() -> None:
            while not any(c.method == "chat.postMessage" for c in world.slack.calls):
                time.sleep(0.005)
            lease[0] = False  # well inside the 2 s Slack asked to wait

        watcher = threading.Thread(target=lose_the_lease_once_answered_429)
        watcher.start()
        world.poller.poll_once()
        watcher.join()
        posts = [c for c in world.slack.calls if c.method == "chat.postMessage"]
        assert len(posts) == 1 and world.slack.posts("C1") == []
        assert world.store.cards("C1") == []
        lease[0] = True
        world.poller.poll_once()
        assert world.posted_uuids("C1") == ["A"]
