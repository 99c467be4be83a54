"""One poll cycle: new clips from the feed to every subscribed channel, each exactly once.

The cycle is a pipeline: settle what is in doubt → **fetch** (the feed from the furthest-behind
subscription, camera names) → **plan** (pure, `clipbot.plan`) → **enrich** (who saved it,
thumbnails) → **deliver** (reserve → post → confirm, `clipbot.delivery`) → **advance** (pure:
each subscription's new position, written last). Then cards of unfinished clips are redrawn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo

from clipbot import blocks, delivery, lines, logs, plan
from clipbot.access import Access
from clipbot.delivery import ChannelOutcome
from clipbot.notify import SlackPoster
from clipbot.plan import Batch, wants
from clipbot.records import Clip
from clipbot.redraw import redraw
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.state import Card, CardKind, Subscription
from clipbot.store import Store
from clipbot.thumbnails import Thumbnails, with_thumbnail

__all__ = ["CycleResult", "Poller", "wants"]

log = logging.getLogger(__name__)

RECHECK_MS = 24 * 3_600_000  # how long an unfinished clip's card keeps being re-checked
UNSHOWN_DAYS = 7  # how long a card whose edit failed keeps being drawn again
# How often a cycle still delivering writes down that it is (see Store.record_progress).
PROGRESS_EVERY_MS = 5_000
# Channels posted at once. Slack takes about one chat.postMessage per second per channel (bursts
# allowed) and several hundred a minute per workspace, answering 429 + Retry-After beyond (which
# the WebClient waits out). Each channel's posts go one after the other, paced by the poster;
# 16 channels in flight cover a 200-channel fan-out in a burst of about 200 / 16 round trips,
# and at most 16 posts a round trip (~100 ms against slack.com) stays near the workspace's
# sustained pace whatever the number of channels.
POST_CONCURRENCY = 16
# Thumbnails fetched from Rhombus and uploaded to Slack at once, ahead of the posts that show them:
# one takes about three round trips (the media GET, files.getUploadURLExternal with the upload,
# files.completeUploadExternal) to a post's one, so 3 per channel posting keep ahead of the posts.
THUMBNAIL_CONCURRENCY = 3 * POST_CONCURRENCY


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
            self._refresh_unfinished(result)
            result.updated += self.thumbnails.add_missing(self._redraw)
            result.updated += self.thumbnails.show_pending(self.now_ms() - RECHECK_MS, self._redraw)
            result.updated += lines.show_counts(self.store, self._redraw)
            self._redraw_unshown(result)
        return result

    def _count_skipped(self) -> None:
        self.store.note_odd_records(self.rhombus.new_odd_records(), self.now_ms())

    # -- new clips --------------------------------------------------------------------------

    def _new_clips(self, subs: list[Subscription], result: CycleResult, dry_run: bool) -> None:
        result.window_ms = plan.window_start(subs)
        clips = self.rhombus.clips_since(result.window_ms)
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
        batches = planned.batches
        by_channel = {s.channel_id: s for s in subs}
        now = self.now_ms()
        joins = {  # burst grouping: clip uuid → the card whose thread it joins, per channel
            b.channel_id: lines.joins(self.store, by_channel[b.channel_id], list(b.clips), now)
            for b in batches
            if not b.digest
        }
        if dry_run:
            result.planned = [self._describe(b, joins.get(b.channel_id, {})) for b in batches]
            return
        if planned.held:
            self.store.hold((m.id, c.uuid, c.created_at_ms) for m, c in planned.held)
        # Thumbnails are fetched and uploaded (once per clip, oldest first) while the channels
        # post: each card waits only for its own thumbnail.
        thumbnails = ThreadPoolExecutor(THUMBNAIL_CONCURRENCY, thread_name_prefix="thumbnail")
        try:
            cards, uploads = self._enrich(batches, names, joins, thumbnails)
            # Every channel's first message written down at once: one wait for the disk.
            ahead = delivery.reserve_first(self.store, cards) if self._carry_on() else set()

            def deliver(channel_cards: list[Card]) -> ChannelOutcome:
                sub = by_channel[channel_cards[0].channel_id]
                return self._deliver(channel_cards, sub, uploads, sub.channel_id in ahead)

            with ThreadPoolExecutor(self.workers, thread_name_prefix="post") as pool:
                outcomes = list(pool.map(logs.carried(deliver), cards))
        finally:
            thumbnails.shutdown(wait=True, cancel_futures=True)
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

    def _describe(self, batch: Batch, joins: dict[str, str]) -> str:
        if batch.digest:
            return f"{batch.channel_id}: a digest of {len(batch.clips)} clips"
        return "\n".join(
            f"{batch.channel_id}: {blocks.title_of(c)} ({c.uuid})"
            + (f" in the thread of {joins[c.uuid]}" if c.uuid in joins else "")
            for c in batch.clips
        )

    def _carry_on(self) -> bool:
        """Whether delivery goes on: the process is not stopping and this replica leads."""
        return not self.stopping.is_set() and self.leading()

    def _deliver(
        self,
        cards: list[Card],
        sub: Subscription,
        thumbnails: dict[str, Future[str | None]],
        reserved: bool,
    ) -> ChannelOutcome:
        with logs.context(channel=sub.channel_id):
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

    def _enrich(
        self,
        batches: list[Batch],
        names: dict[str, tuple[str, ...]],
        joins: dict[str, dict[str, str]],
        pool: ThreadPoolExecutor,
    ) -> tuple[list[list[Card]], dict[str, Future[str | None]]]:
        """Cards (and thread lines, for clips in `joins`: channel → clip uuid → its card's)
        with every fact but the thumbnail filled in, and each one's thumbnail upload (clip uuid
        → its Slack file ID to come): one per clip, shared by channels, started on `pool`
        oldest clip first."""
        now = self.now_ms()
        shown = sorted(
            {c.uuid: c for b in batches if not b.digest for c in b.clips}.values(),
            key=lambda c: (c.created_at_ms, c.uuid),
        )
        thumbnail = logs.carried(self.thumbnails.file_of)
        thumbnails = {clip.uuid: pool.submit(thumbnail, clip) for clip in shown}
        found = []
        for batch in batches:
            cards = []
            for clip in batch.clips:
                group_of = joins.get(batch.channel_id, {}).get(clip.uuid)
                kind = CardKind.LINE if group_of else CardKind.CARD
                cards.append(
                    Card(
                        clip=clip,
                        channel_id=batch.channel_id,
                        posted_at_ms=now,
                        kind=CardKind.DIGEST if batch.digest else kind,
                        group_of=group_of,
                        camera_names=names[clip.uuid],
                        saved_by=self._saved_by(clip),
                    )
                )
            found.append(cards)
        return found, thumbnails

    def _saved_by(self, clip: Clip) -> str | None:
        try:
            return self.rhombus.user_name(clip.user_uuid)
        except RhombusError as exc:
            log.warning("could not look up who saved clip %s: %s", clip.uuid, exc)
            return None

    # -- status changes -------------------------------------------------------------------------

    def _refresh_unfinished(self, result: CycleResult) -> None:
        by_clip: dict[str, list[Card]] = defaultdict(list)
        for card in self.store.unfinished(self.now_ms() - RECHECK_MS):
            by_clip[card.clip.uuid].append(card)
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
                self._redraw(card)
                result.updated += 1

    def _redraw_unshown(self, result: CycleResult) -> None:
        """Draws again the week's cards whose last edit failed (a press's, say), so none keeps
        showing a state it left; not in channels that refuse posts (broken)."""
        broken = {s.channel_id for s in self.store.subscriptions() if s.broken}
        for card in self.store.unshown(self.now_ms() - UNSHOWN_DAYS * 86_400_000):
            if card.channel_id not in broken:
                result.updated += self._redraw(card, unshown_only=True)

    def _redraw(self, card: Card, *, unshown_only: bool = False) -> bool:
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
