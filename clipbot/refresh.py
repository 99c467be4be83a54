"""Cards already posted, brought up to date by each poll cycle after its new clips: a clip's
status change, a thumbnail the media server did not have yet, an image Slack was not ready to
show, a grouped card's count of thread lines, a card whose last edit failed."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from clipbot import lines
from clipbot.access import Access
from clipbot.notify import SlackPoster
from clipbot.redraw import redraw
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.state import Card
from clipbot.store import Store
from clipbot.thumbnails import Thumbnails

log = logging.getLogger(__name__)

RECHECK_MS = 24 * 3_600_000  # how long an unfinished clip's card keeps being re-checked
UNSHOWN_DAYS = 7  # how long a card whose edit failed keeps being drawn again


class Refresh:
    """Edits posted cards to match what Rhombus and the store say now."""

    def __init__(
        self,
        store: Store,
        rhombus: RhombusClient,
        poster: SlackPoster,
        thumbnails: Thumbnails,
        *,
        console_url: str,
        access: Access,
        video_max_bytes: int,
        now_ms: Callable[[], int],
    ) -> None:
        self.store, self.rhombus, self.poster = store, rhombus, poster
        self.thumbnails = thumbnails
        self.console_url = console_url
        self.access = access
        self.video_max_bytes = video_max_bytes
        self.now_ms = now_ms

    def run(self) -> int:
        """One pass of every kind; the number of cards edited."""
        return (
            self._refresh_unfinished()
            + self.thumbnails.add_missing(self.redraw)
            + self.thumbnails.show_pending(self.now_ms() - RECHECK_MS, self.redraw)
            + lines.show_counts(self.store, self.redraw)
            + self._redraw_unshown()
        )

    def redraw(self, card: Card, *, unshown_only: bool = False) -> bool:
        """See clipbot.redraw.redraw, with this bot's console URL and buttons."""
        return redraw(
            self.store,
            self.poster,
            card.clip.uuid,
            card.channel_id,
            self.console_url,
            share=self.access.share_shown,
            video_max_bytes=self.video_max_bytes,
            unshown_only=unshown_only,
        )

    def _refresh_unfinished(self) -> int:
        by_clip: dict[str, list[Card]] = defaultdict(list)
        for card in self.store.unfinished(self.now_ms() - RECHECK_MS):
            by_clip[card.clip.uuid].append(card)
        updated = 0
        for uuid, cards in by_clip.items():
            try:
                clip = self.rhombus.clip(uuid)
            except RhombusError as exc:
                log.warning("could not re-check clip %s: %s", uuid, exc)
                continue
            if clip is None or clip.status == cards[0].clip.status:
                continue
            thumbnail = self.thumbnails.file_of(clip)
            for card in cards:
                self.store.refresh(replace(card, clip=clip, thumbnail_file_id=thumbnail))
                self.redraw(card)
                updated += 1
        return updated

    def _redraw_unshown(self) -> int:
        """Draws again the week's cards whose last edit failed (a press's, say), so none keeps
        showing a state it left; not in channels that refuse posts (broken)."""
        broken = {s.channel_id for s in self.store.subscriptions() if s.broken}
        unshown = self.store.unshown(self.now_ms() - UNSHOWN_DAYS * 86_400_000)
        return sum(
            self.redraw(card, unshown_only=True)
            for card in unshown
            if card.channel_id not in broken
        )
