"""A clip's thumbnail on its cards: fetched from Rhombus's media server and uploaded to Slack
once per clip, shared by every card that shows it, the oldest clip first on a pool of workers
that starts while the feed is still being read and keeps ahead of the posts; asked for again,
for a while, when the media server did not have it yet; shown by a redraw when Slack was not
ready to show it at first."""

from __future__ import annotations

import heapq
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from clipbot import blocks, logs
from clipbot.notify import SlackPoster
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient
from clipbot.state import Card, CardKind
from clipbot.store import Store

log = logging.getLogger(__name__)

# Thumbnails fetched and uploaded at once: one takes about three round trips (the media GET,
# files.getUploadURLExternal with the upload, files.completeUploadExternal) to a card's one, so
# 3 for each channel posting at once (clipbot.poller.POST_CONCURRENCY, 16) keep ahead of the posts.
THUMBNAIL_CONCURRENCY = 48
# Fewer while the feed is still being read: each worker's turns at the GIL slow the walk, which
# every card waits for (a 10,000-clip catch-up on 2 busy cores read its 102 pages in 5.7 s
# without read-ahead, in 6.2 s with 8 workers reading ahead, in 11.6 s with 48).
READ_AHEAD_CONCURRENCY = 8
# How long, and how often, the media server is asked again for a thumbnail it did not have yet
# when the card went out.
THUMBNAIL_WAIT_MS = 30 * 60_000
THUMBNAIL_RETRY_MS = 60_000


class Thumbnails:
    """Clips' thumbnails in Slack, for the poller."""

    def __init__(
        self,
        store: Store,
        rhombus: RhombusClient,
        poster: SlackPoster,
        now_ms: Callable[[], int],
        workers: int = THUMBNAIL_CONCURRENCY,
    ) -> None:
        self.store, self.rhombus, self.poster, self.now_ms = store, rhombus, poster, now_ms
        self.workers = workers
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

    def uploads(self) -> Uploads:
        """A poll cycle's uploads, on threads of their own: READ_AHEAD_CONCURRENCY until
        `widen()`ed (close() it after)."""
        return Uploads(logs.carried(self.file_of), min(READ_AHEAD_CONCURRENCY, self.workers))

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


def with_thumbnail(card: Card, uploads: Uploads) -> Card:
    """The card (or thread line) with its thumbnail's Slack file ID, once uploaded (waits)."""
    if card.kind is CardKind.DIGEST or not uploads.started(card.clip.uuid):
        return card
    try:
        file_id = uploads.file_id(card.clip.uuid)
    except Exception as exc:  # an image never holds back its card, nor the cycle
        # Asked for again later like one the media server did not have (Thumbnails.add_missing).
        log.warning(
            "thumbnail for clip %s failed (%r); the card goes without it", card.clip.uuid, exc
        )
        return card
    return replace(card, thumbnail_file_id=file_id)


class Cancelled(Exception):
    """An upload dropped or cut by close() before it ran."""


class Uploads:
    """Thumbnails being fetched and uploaded, each clip once, the oldest clip first whatever
    the order they were asked for in (a newest-first feed is read newest first), on up to
    `workers` threads started as needed.

    A clip's outcome is kept as a plain value, not a Future (a catch-up of 10,000 clips held
    some 12 MB in Futures and their locks); an Event is made only for an outcome someone is
    waiting for.
    """

    def __init__(self, upload: Callable[[Clip], str | None], workers: int) -> None:
        self._upload = upload
        self._workers = workers
        self._queue: list[tuple[int, str, Clip]] = []  # a heap, oldest clip first
        self._outcomes: dict[str, _Outcome] = {}  # clip uuid -> its outcome, once known
        self._started: set[str] = set()
        self._waiting: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._ready = threading.Condition()

    def start(self, clip: Clip) -> None:
        """Queues the clip's upload, unless it is queued or done already."""
        with self._ready:
            if clip.uuid in self._started:
                return
            self._started.add(clip.uuid)
            if self._closed:
                self._settle(clip.uuid, Cancelled(clip.uuid))
                return
            heapq.heappush(self._queue, (clip.created_at_ms, clip.uuid, clip))
            if self._idle:
                self._ready.notify()
            elif len(self._threads) < self._workers:
                self._spawn()

    def started(self, uuid: str) -> bool:
        """Whether the clip's upload was asked for (start())."""
        with self._ready:
            return uuid in self._started

    def file_id(self, uuid: str) -> str | None:
        """The Slack file ID the clip's upload gave (None: no thumbnail), once it is done:
        waits for it; None at once for a clip never start()ed. Raises what the upload raised,
        or Cancelled."""
        with self._ready:
            if uuid not in self._started:
                return None
            if uuid not in self._outcomes:
                event = self._waiting.setdefault(uuid, threading.Event())
            else:
                event = None
        if event is not None:
            event.wait()
        outcome = self._outcomes[uuid]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def widen(self, workers: int) -> None:
        """Lets up to `workers` threads upload from now on, started for what is queued."""
        with self._ready:
            self._workers = max(self._workers, workers)
            for _ in range(min(self._workers - len(self._threads), len(self._queue))):
                self._spawn()

    def drop_except(self, uuids: set[str]) -> None:
        """Drops the queued uploads of clips not in `uuids` (read ahead, then not shown:
        they went into a digest, say); those under way finish."""
        with self._ready:
            dropped = [job for job in self._queue if job[1] not in uuids]
            self._queue = [job for job in self._queue if job[1] in uuids]
            heapq.heapify(self._queue)
            for _, uuid, _ in dropped:
                self._settle(uuid, Cancelled(uuid))

    def close(self) -> None:
        """Drops what has not started and waits for the uploads under way."""
        with self._ready:
            self._closed = True
            for _, uuid, _ in self._queue:
                self._settle(uuid, Cancelled(uuid))
            self._queue.clear()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name="thumbnail", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while (clip := self._next()) is not None:
            outcome: _Outcome
            try:
                outcome = self._upload(clip)
            except Exception as exc:  # handed to whoever waits for this card's image
                outcome = exc
            with self._ready:
                self._settle(clip.uuid, outcome)

    def _settle(self, uuid: str, outcome: _Outcome) -> None:
        """Records an outcome and wakes whoever waits for it (holding `_ready`)."""
        self._outcomes[uuid] = outcome
        if (event := self._waiting.pop(uuid, None)) is not None:
            event.set()

    def _next(self) -> Clip | None:
        with self._ready:
            while not self._queue and not self._closed:
                self._idle += 1
                self._ready.wait()
                self._idle -= 1
            return heapq.heappop(self._queue)[2] if self._queue else None


_Outcome = str | None | Exception
