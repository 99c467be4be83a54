"""A clip's thumbnail on its cards: fetched from Rhombus's media server and uploaded to Slack
once per clip, shared by every card that shows it; asked for again, for a while, when the media
server did not have it yet; shown by a redraw when Slack was not ready to show it at first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace

from clipbot import blocks
from clipbot.notify import SlackPoster
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient
from clipbot.state import Card, CardKind
from clipbot.store import Store

# How long, and how often, the media server is asked again for a thumbnail it did not have yet
# when the card went out.
THUMBNAIL_WAIT_MS = 30 * 60_000
THUMBNAIL_RETRY_MS = 60_000


class Thumbnails:
    """Clips' thumbnails in Slack, for the poller."""

    def __init__(
        self, store: Store, rhombus: RhombusClient, poster: SlackPoster, now_ms: Callable[[], int]
    ) -> None:
        self.store, self.rhombus, self.poster, self.now_ms = store, rhombus, poster, now_ms
        self._asked: dict[str, int] = {}  # clip uuid -> when its media was last asked (ms)

    def file_of(self, clip: Clip) -> str | None:
        """The Slack file of a finished clip's thumbnail: uploaded once, then reused (a card
        posted again after a refusal or a doubt leaves no orphan file); None if not ready."""
        if clip.status != "COMPLETE":
            return None
        if known := self.store.thumbnail(clip.uuid):
            return known
        self._asked[clip.uuid] = self.now_ms()
        data = self.rhombus.thumbnail(clip)
        if data is None:
            return None
        file_id = self.poster.upload_image(data, f"{clip.uuid}.jpeg", blocks.title_of(clip))
        if file_id:
            self.store.save_thumbnail(clip.uuid, file_id, self.now_ms())
        return file_id

    def add_missing(self, redraw: Callable[[Card], bool]) -> int:
        """Asks the media server again, for THUMBNAIL_WAIT_MS after posting, for thumbnails it
        did not have yet when their card went out, and adds each to its cards (`redraw`); how
        many cards were redrawn."""
        now = self.now_ms()
        self._asked = {uuid: at for uuid, at in self._asked.items() if at > now - THUMBNAIL_WAIT_MS}
        by_clip: dict[str, list[Card]] = defaultdict(list)
        for card in self.store.missing_thumbnails(now - THUMBNAIL_WAIT_MS):
            if self._asked.get(card.clip.uuid, 0) <= now - THUMBNAIL_RETRY_MS:
                by_clip[card.clip.uuid].append(card)
        redrawn = 0
        for cards in by_clip.values():
            file_id = self.file_of(cards[0].clip)
            for card in cards if file_id else []:
                self.store.refresh(replace(card, thumbnail_file_id=file_id))
                redrawn += redraw(card)
        return redrawn

    def show_pending(self, since_ms: int, redraw: Callable[[Card], bool]) -> int:
        """Redraws the cards posted since `since_ms` whose thumbnail Slack was not ready to show
        when they were posted; how many now show it."""
        return sum(redraw(card) for card in self.store.thumbnails_pending(since_ms))


def with_thumbnail(card: Card, uploads: dict[str, Future[str | None]]) -> Card:
    """The card (or thread line) with its thumbnail's Slack file ID, once uploaded (waits)."""
    upload = uploads.get(card.clip.uuid)
    if upload is None or card.kind is CardKind.DIGEST:
        return card
    return replace(card, thumbnail_file_id=upload.result())
