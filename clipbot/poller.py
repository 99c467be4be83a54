"""One poll cycle: new clips from the feed to every subscribed channel, each exactly once."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import blocks
from clipbot.access import Access
from clipbot.notify import ChannelBroken, SlackPoster, slack_error
from clipbot.quiet import Mute, sift
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.state import Card, CardKind, Subscription
from clipbot.store import Store, StoreConflict
from clipbot.triage import redraw

log = logging.getLogger(__name__)

# Clips can appear in the feed a little after their createdAtMs: each cycle looks this far
# behind the position, and the cards table keeps anything seen twice from being posted twice.
LOOKBACK_MS = 120_000
RECHECK_MS = 24 * 3_600_000  # how long an unfinished clip's card keeps being re-checked


@dataclass
class CycleResult:
    """What one cycle did."""

    posted: int = 0
    digests: int = 0
    updated: int = 0
    broken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)  # dry run: what would be posted


def wants(sub: Subscription, clip: Clip, camera_names: tuple[str, ...]) -> bool:
    """Whether the subscription should get this clip."""
    if clip.created_at_ms < sub.start_ms or (
        clip.created_at_ms == sub.start_ms and clip.uuid in sub.start_uuids
    ):
        return False
    if clip.is_private and not sub.include_private:
        return False
    if clip.is_monitoring_clip and not sub.include_monitoring:
        return False
    if sub.min_duration_sec and (clip.duration_sec or 0) < sub.min_duration_sec:
        return False
    return not sub.camera or any(sub.camera.casefold() in n.casefold() for n in camera_names)


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
        workers: int = 4,
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

    def poll_once(self, *, dry_run: bool = False) -> CycleResult:
        """One cycle; Rhombus failures are recorded for /clips status and raised."""
        try:
            result = self._cycle(dry_run)
        except RhombusError as exc:
            if not dry_run:
                self.store.record_error(self.now_ms(), str(exc))
            raise
        if not dry_run:
            if result.failed:
                self.store.record_error(self.now_ms(), "; ".join(result.failed))
            self.store.record_success(self.now_ms())
        return result

    def _cycle(self, dry_run: bool) -> CycleResult:
        result = CycleResult()
        if not dry_run:
            self._reconcile()
        # A private:yes that no admin made gets no private clips (see clipbot.access).
        subs = [self.access.effective(s) for s in self.store.subscriptions() if not s.broken]
        if subs:
            self._deliver_new(subs, result, dry_run)
        if not dry_run:
            self._refresh_unfinished(result)
            self._show_pending_thumbnails(result)
        return result

    # -- new clips --------------------------------------------------------------------------

    def _deliver_new(self, subs: list[Subscription], result: CycleResult, dry_run: bool) -> None:
        position = self.store.position()
        since = min(s.start_ms for s in subs) if position is None else position
        clips = self.rhombus.clips_since(max(0, since - LOOKBACK_MS))
        names = {c.uuid: self.rhombus.camera_names(c.camera_ids) for c in clips}
        mutes = self.store.mutes(clips[0].created_at_ms - 1) if clips else []
        plan: dict[str, list[Clip]] = {}
        held: list[tuple[Mute, Clip]] = []
        for sub in subs:
            wanted = [c for c in clips if wants(sub, c, names[c.uuid])]
            keep, muted = sift(sub.channel_id, sub.schedule, wanted, names, self.zone, mutes)
            plan[sub.channel_id], held = self._unposted(sub, keep), held + muted
        plan = {channel: todo for channel, todo in plan.items() if todo}
        if dry_run:
            result.planned = [self._describe(ch, todo) for ch, todo in plan.items()]
            return
        self.store.hold((mute.id, clip.uuid, clip.created_at_ms) for mute, clip in held)
        cards = self._cards(plan, names)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            outcomes = list(pool.map(self._deliver_channel, cards.values()))
        failed_at = [at for outcome in outcomes for at in outcome.failed_at]
        active = {sub.channel_id for sub in subs}
        failed_at += [c.clip.created_at_ms for c in self.store.in_doubt() if c.channel_id in active]
        for outcome in outcomes:
            result.posted += outcome.posted
            result.digests += outcome.digests
            result.broken += outcome.broken
            result.failed += outcome.errors
        if clips:
            newest = clips[-1].created_at_ms
            self.store.advance(min(newest, min(failed_at) - 1) if failed_at else newest)

    def _unposted(self, sub: Subscription, clips: list[Clip]) -> list[Clip]:
        if not clips:
            return []
        done = self.store.posted_uuids(sub.channel_id, [c.uuid for c in clips])
        return [c for c in clips if c.uuid not in done]

    def _describe(self, channel: str, clips: list[Clip]) -> str:
        if len(clips) > self.digest_threshold:
            return f"{channel}: a digest of {len(clips)} clips"
        return "\n".join(f"{channel}: {blocks.title_of(c)} ({c.uuid})" for c in clips)

    def _cards(
        self, plan: dict[str, list[Clip]], names: dict[str, tuple[str, ...]]
    ) -> dict[str, list[Card]]:
        """Cards with every fact filled in; one thumbnail upload per clip, shared by channels."""
        thumbnails: dict[str, str | None] = {}
        cards: dict[str, list[Card]] = {}
        now = self.now_ms()
        for channel, clips in plan.items():
            digest = len(clips) > self.digest_threshold
            cards[channel] = []
            for clip in clips:
                if not digest and clip.uuid not in thumbnails:
                    thumbnails[clip.uuid] = self._thumbnail(clip)
                cards[channel].append(
                    Card(
                        clip=clip,
                        channel_id=channel,
                        posted_at_ms=now,
                        kind=CardKind.DIGEST if digest else CardKind.CARD,
                        camera_names=names[clip.uuid],
                        saved_by=self._saved_by(clip),
                        thumbnail_file_id=None if digest else thumbnails[clip.uuid],
                    )
                )
        return cards

    def _saved_by(self, clip: Clip) -> str | None:
        try:
            return self.rhombus.user_name(clip.user_uuid)
        except RhombusError as exc:
            log.warning("could not look up who saved clip %s: %s", clip.uuid, exc)
            return None

    def _thumbnail(self, clip: Clip) -> str | None:
        if clip.status != "COMPLETE":
            return None
        data = self.rhombus.thumbnail(clip)
        if data is None:
            return None
        return self.poster.upload_image(data, f"{clip.uuid}.jpeg", blocks.title_of(clip))

    def _deliver_channel(self, cards: list[Card]) -> _Outcome:
        """Posts one channel's cards in order: written down before sent, confirmed after."""
        outcome = _Outcome()
        channel = cards[0].channel_id
        sub = self.store.subscription(channel)
        notify = sub.notify if sub else None
        try:
            if cards[0].kind == "digest":
                digest = blocks.digest(cards, self.console_url)
                self._send(cards, blocks.mentioning(digest, notify), blocks.digest_metadata(cards))
                outcome.digests += 1
                outcome.posted += len(cards)
            else:
                for card in cards:
                    card_message = blocks.clip_card(
                        card,
                        self.console_url,
                        share=self.access.share_shown,
                        video_max_bytes=self.video_max_bytes,
                    )
                    message = blocks.mentioning(card_message, notify)
                    self._send([card], message, blocks.clip_metadata(card.clip))
                    outcome.posted += 1
        except ChannelBroken as exc:
            log.warning(
                "channel %s is broken (%s): skipping it until resubscribed", channel, exc.reason
            )
            self.store.mark_broken(channel, exc.reason)
            outcome.broken.append(channel)
        except (_Stopping, StoreConflict):
            # StoreConflict: another replica reserved the clip first, so it is posting it.
            outcome.failed_at.append(cards[outcome.posted].clip.created_at_ms)
        except (SlackApiError, SlackClientError, OSError) as exc:
            reason = slack_error(exc)
            log.error("posting to %s failed: %s; will retry next cycle", channel, reason)
            outcome.errors.append(f"Slack posting to {channel} failed: {reason}")
            outcome.failed_at.append(min(c.clip.created_at_ms for c in cards[outcome.posted :]))
        return outcome

    def _send(
        self, cards: list[Card], message: blocks.Message, metadata: dict[str, object]
    ) -> None:
        if self.stopping.is_set() or not self.leading():
            raise _Stopping
        channel, uuids = cards[0].channel_id, [c.clip.uuid for c in cards]
        self.store.reserve(cards)
        try:
            sent = self.poster.post(channel, message, metadata)
        except (SlackApiError, ChannelBroken):
            # Slack answered with an error, so nothing was posted: the reservation goes. After
            # any other failure the message may have gone out; the next cycle's _reconcile asks.
            self.store.release(channel, uuids)
            raise
        self.store.confirm(channel, uuids, sent.ts, thumbnail_pending=sent.image_refused)

    # -- after a crash ------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Settles reservations a crash left in doubt: posted ones are confirmed, others retried."""
        by_channel: dict[str, list[Card]] = defaultdict(list)
        for card in self.store.in_doubt():
            by_channel[card.channel_id].append(card)
        for channel, cards in by_channel.items():
            try:
                # Slack's own clock: anything after the last card confirmed before the doubt.
                found = self.poster.find_posted(channel, self.store.last_ts_before_doubt(channel))
            except SlackApiError as exc:
                # Slack answered (no history scope, say): post again rather than risk a loss.
                log.warning(
                    "cannot check %s for interrupted posts (%s): posting them again",
                    channel,
                    slack_error(exc),
                )
                found = {}
            except (SlackClientError, OSError) as exc:
                # Slack did not answer: ask again next cycle; the position waits for them.
                log.warning("cannot reach Slack to check %s (%s)", channel, slack_error(exc))
                continue
            for card in cards:
                if card.clip.uuid in found:
                    self.store.confirm(channel, [card.clip.uuid], found[card.clip.uuid])
                else:
                    self.store.release(channel, [card.clip.uuid])

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
            thumbnail = self._thumbnail(clip)
            for card in cards:
                self.store.refresh(replace(card, clip=clip, thumbnail_file_id=thumbnail))
                self._redraw(card.clip.uuid, card.channel_id)
                result.updated += 1

    def _show_pending_thumbnails(self, result: CycleResult) -> None:
        """Adds thumbnails Slack was not ready to show when their card was posted."""
        for card in self.store.thumbnails_pending(self.now_ms() - RECHECK_MS):
            if self._redraw(card.clip.uuid, card.channel_id):
                result.updated += 1

    def _redraw(self, clip_uuid: str, channel: str) -> bool:
        return redraw(
            self.store,
            self.poster,
            clip_uuid,
            channel,
            self.console_url,
            share=self.access.share_shown,
            video_max_bytes=self.video_max_bytes,
        )


class _Stopping(Exception):
    """The process is stopping: leave the rest of the channel's clips for the next start."""


@dataclass
class _Outcome:
    posted: int = 0
    digests: int = 0
    broken: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_at: list[int] = field(default_factory=list)
