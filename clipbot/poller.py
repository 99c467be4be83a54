"""One poll cycle: new clips from the feed to every subscribed channel, each exactly once.

The cycle is a pipeline: settle what is in doubt → **fetch** (the feed from the furthest-behind
subscription, camera names) → **plan** (pure, `clipbot.plan`) → **enrich** (who saved it,
thumbnails) → **deliver** (reserve → post → confirm, `clipbot.delivery`) → **advance** (pure:
each subscription's new position, written last). Then posted cards are brought up to date
(`clipbot.refresh`).

Read-ahead: a channel with more waiting clips than the digest threshold gets ONE digest, so no
card goes before the walk has counted them, whatever the feed's order; but each page read starts
the thumbnails (`clipbot.thumbnails`) of the clips a channel would get as cards, while its count
stays within the threshold (a backlog headed for a digest wastes at most threshold + 1 uploads).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from clipbot import delivery, enrich, lines, logs, plan, stopping
from clipbot.access import Access
from clipbot.delivery import ChannelOutcome
from clipbot.notify import SlackPoster
from clipbot.plan import wants
from clipbot.quiet import Mute
from clipbot.records import Clip
from clipbot.refresh import Refresh
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.state import Card, Subscription
from clipbot.store import Store
from clipbot.thumbnails import Thumbnails, Uploads, with_thumbnail

__all__ = ["CycleResult", "Poller", "wants"]

log = logging.getLogger(__name__)

# How often a cycle still delivering writes down that it is (see Store.record_progress).
PROGRESS_EVERY_MS = 5_000
# Channels posted at once. Slack takes about one chat.postMessage per second per channel (bursts
# allowed) and several hundred a minute per workspace, answering 429 + Retry-After beyond (which
# the WebClient waits out). Each channel's posts go one after the other, paced by the poster;
# 16 channels in flight cover a 200-channel fan-out in a burst of about 200 / 16 round trips,
# and at most 16 posts a round trip (~100 ms against slack.com) stays near the workspace's
# sustained pace whatever the number of channels.
POST_CONCURRENCY = 16


@dataclass
class CycleResult:
    """What one cycle did."""

    posted: int = 0
    digests: int = 0
    updated: int = 0
    broken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # dry run: what would be posted
    window_ms: int | None = None  # where the feed was read from (None: not read)


class Poller:
    """Runs poll cycles against the feed, the store and Slack."""

    def __init__(
        self,
        store: Store,
        rhombus: RhombusClient,
        poster: SlackPoster,
        *,
        console_url: str,
        digest_threshold: int,
        access: Access | None = None,
        video_max_bytes: int = 0,
        zone: tzinfo = UTC,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        workers: int = POST_CONCURRENCY,
    ) -> None:
        self.store = store
        self.rhombus = rhombus
        self.poster = poster
        self.console_url = console_url
        self.digest_threshold = digest_threshold
        self.access = access or Access()  # who may do what: admins, CLIPBOT_SHARE
        self.video_max_bytes = video_max_bytes
        self.zone = zone  # CLIPBOT_TIMEZONE: where quiet hours are read
        self.now_ms = now_ms
        self.workers = workers
        self.stopping = threading.Event()  # set on shutdown: the cycle stops between two posts
        # Whether this replica still leads (see clipbot.leader): one that lost the lease stops
        # between two posts, like a shutdown, and leaves the rest to the new leader.
        self.leading: Callable[[], bool] = lambda: True
        self.thumbnails = Thumbnails(store, rhombus, poster, now_ms)
        self.refresh = Refresh(
            store,
            rhombus,
            poster,
            self.thumbnails,
            console_url=console_url,
            access=self.access,
            video_max_bytes=video_max_bytes,
            now_ms=now_ms,
        )
        self._progress_ms = 0  # when this cycle's delivery was last written down
        self._progress_lock = threading.Lock()

    def poll_once(self, *, dry_run: bool = False) -> CycleResult:
        """One cycle; Rhombus failures are recorded for /clips status and raised."""
        try:
            result = self._cycle(dry_run)
        except RhombusError as exc:
            if not dry_run:
                self._count_skipped()
                self.store.record_error(self.now_ms(), str(exc))
            raise
        if not dry_run:
            self._count_skipped()
            if result.failed:
                self.store.record_error(self.now_ms(), "; ".join(result.failed))
            else:
                self.store.record_success(self.now_ms())
        return result

    def _cycle(self, dry_run: bool) -> CycleResult:
        result = CycleResult()
        if not dry_run:
            delivery.settle(self.store, self.poster)
        # A private:yes that no admin made gets no private clips (see clipbot.access).
        subs = [self.access.effective(s) for s in self.store.subscriptions() if not s.broken]
        if subs:
            self._new_clips(subs, result, dry_run)
        if not dry_run:
            result.updated += self.refresh.run()
        return result

    def _count_skipped(self) -> None:
        self.store.note_odd_records(self.rhombus.new_odd_records(), self.now_ms())

    # -- new clips --------------------------------------------------------------------------

    def _new_clips(self, subs: list[Subscription], result: CycleResult, dry_run: bool) -> None:
        # Thumbnails are fetched and uploaded (once per clip, oldest first) from the moment the
        # feed's pages come in, and while the channels post: each card waits only for its own.
        uploads = None if dry_run else self.thumbnails.uploads()
        try:
            self._fetch_and_deliver(subs, result, uploads)
        finally:
            if uploads is not None:
                uploads.close()

    def _fetch_and_deliver(
        self, subs: list[Subscription], result: CycleResult, uploads: Uploads | None
    ) -> None:
        window = result.window_ms = plan.window_start(subs)
        ahead = self._read_ahead(subs, window, uploads) if uploads else None
        clips = self.rhombus.clips_since(window, ahead or (lambda clips: None))
        names = {c.uuid: self.rhombus.camera_names(c.camera_ids) for c in clips}
        mutes = self.store.mutes(clips[0].created_at_ms - 1) if clips else []
        planned = plan.plan(
            subs,
            clips,
            names,
            self._posted(subs, clips),
            self.digest_threshold,
            zone=self.zone,
            mutes=mutes,
        )
        # A channel with a message still in doubt (Slack could not be asked) waits for it, so
        # one found missing and posted later keeps its place in the channel's order.
        doubt = {card.channel_id for card in self.store.in_doubt()}
        batches = [b for b in planned.batches if b.channel_id not in doubt]
        by_channel = {s.channel_id: s for s in subs}
        now = self.now_ms()
        joins = {  # burst grouping: clip uuid → the card whose thread it joins, per channel
            b.channel_id: lines.joins(self.store, by_channel[b.channel_id], list(b.clips), now)
            for b in batches
            if not b.digest
        }
        if uploads is None:  # a dry run
            result.planned = [enrich.describe(b, joins.get(b.channel_id, {})) for b in batches]
            return
        if planned.held:
            self.store.hold((m.id, c.uuid, c.created_at_ms) for m, c in planned.held)
        shown = {c.uuid: c for b in batches if not b.digest for c in b.clips}
        for clip in shown.values():
            uploads.start(clip)
        uploads.drop_except(set(shown))  # read ahead but not shown (in a digest, say)
        uploads.widen(self.thumbnails.workers)  # the walk is over
        cards = enrich.cards(batches, names, joins, self.rhombus, self.now_ms())
        # Every channel's first message written down at once: one wait for the disk.
        first = delivery.reserve_first(self.store, cards) if self._carry_on() else set()

        def deliver(channel_cards: list[Card]) -> ChannelOutcome:
            sub = by_channel[channel_cards[0].channel_id]
            return self._deliver(channel_cards, sub, uploads, sub.channel_id in first)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="post") as pool:
            outcomes = list(pool.map(logs.carried(deliver), cards))
        for outcome in outcomes:
            result.posted += outcome.posted
            result.digests += outcome.digests
            result.broken += [outcome.channel_id] if outcome.broken else []
            result.failed += [outcome.error] if outcome.error else []
        if clips:
            newest = clips[-1].created_at_ms
            # Only positions that move are written: an idle cycle writes nothing but health.
            positions = plan.advance(subs, newest, self._held(outcomes))
            moved = {c: at for c, at in positions.items() if at > (by_channel[c].position_ms or -1)}
            if moved:
                self.store.advance_subscriptions(moved)
            if newest > (self.store.position() or -1):
                self.store.advance(newest)

    def _posted(self, subs: list[Subscription], clips: list[Clip]) -> dict[str, set[str]]:
        """Channel → the clips it has, may have, or had held back by a mute (held stays held,
        even when an unmute later ends the mute before the clip's createdAtMs)."""
        uuids = [c.uuid for c in clips]
        if not uuids:
            return {}
        return {
            s.channel_id: self.store.posted_uuids(s.channel_id, uuids)
            | self.store.held_back(s.channel_id, uuids)
            for s in subs
        }

    def _read_ahead(
        self, subs: list[Subscription], window_ms: int, uploads: Uploads
    ) -> Callable[[list[Clip]], None]:
        """What the feed's walk hears each page's clips with: the clips each channel would get
        as cards (planned as the cycle plans, a page at a time) have their thumbnails started,
        while the channel's count so far stays within the digest threshold."""
        counts: dict[str, int] = defaultdict(int)
        mutes: list[Mute] | None = None

        def read(clips: list[Clip]) -> None:
            nonlocal mutes
            if not clips:
                return
            if mutes is None:  # those of the whole window: a clip a mute holds is not shown
                mutes = self.store.mutes(window_ms - 1)
            clips = sorted(clips, key=lambda c: (c.created_at_ms, c.uuid))
            names = {c.uuid: self.rhombus.camera_names(c.camera_ids) for c in clips}
            posted = self._posted(subs, clips)
            # A page's clips never make a digest here: the cycle's plan decides that.
            page = plan.plan(subs, clips, names, posted, len(clips), zone=self.zone, mutes=mutes)
            for batch in page.batches:
                counts[batch.channel_id] += len(batch.clips)
                if counts[batch.channel_id] <= self.digest_threshold:
                    for clip in batch.clips:
                        uploads.start(clip)

        return read

    def _progress(self) -> None:
        """A card went out: written down at most every PROGRESS_EVERY_MS, so a cycle that drains
        a long backlog reads as alive (see clipbot.health) before it finishes."""
        now = self.now_ms()
        with self._progress_lock:
            if now - self._progress_ms < PROGRESS_EVERY_MS:
                return
            self._progress_ms = now
        self.store.record_progress(now)

    def _held(self, outcomes: list[ChannelOutcome]) -> dict[str, int]:
        """Channel → createdAtMs of its earliest clip not delivered: failed, or in doubt."""
        held = {o.channel_id: o.held_ms for o in outcomes if o.held_ms is not None}
        for card in self.store.in_doubt():
            at = card.clip.created_at_ms
            held[card.channel_id] = min(at, held.get(card.channel_id, at))
        return held

    def _carry_on(self) -> bool:
        """Whether delivery goes on: the process is not stopping and this replica leads."""
        return not self.stopping.is_set() and self.leading()

    def _deliver(
        self,
        cards: list[Card],
        sub: Subscription,
        thumbnails: Uploads,
        reserved: bool,
    ) -> ChannelOutcome:
        with logs.context(channel=sub.channel_id), stopping.resending_while(self._carry_on):
            return delivery.deliver(
                self.store,
                self.poster,
                cards,
                self.console_url,
                self._carry_on,
                share=self.access.share_shown,
                video_max_bytes=self.video_max_bytes,
                notify=sub.notify,
                refusals=sub.failures,
                reserved=reserved,
                prepare=lambda card: with_thumbnail(card, thumbnails),
                progress=self._progress,
            )

    # -- enrich -------------------------------------------------------------------------------
