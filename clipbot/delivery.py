"""Delivery: every message clipbot posts goes reserve → post → confirm, and in doubt is settled.

A message is written down (reserved) before it is sent and confirmed with its `ts` after. If
Slack answered with an error, nothing was posted and the reservation goes. If the answer never
came (the process died, the connection closed, a timeout), the message is *in doubt*: it may
be in Slack or not. It is never sent again blindly; `settle` looks for it by its metadata in
the channel's history (cards, digests) or the thread (lines and replies: lines.py,
replying.py) and only then confirms it or sends it again.

A clip for many channels: every channel's first message is reserved in one transaction before
any is posted (`reserve_first`), so the disk is waited for once, not once per channel; after
it, each channel reserves its next RESERVE_AHEAD cards at a time, so once per that many cards.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError

from clipbot import blocks, lines, replying
from clipbot.notify import ChannelBroken, SlackPoster
from clipbot.slack_errors import (
    IN_DOUBT,
    SlackFailure,
    classify,
    refused_for_good,
    slack_error,
)
from clipbot.state import Card, CardKind
from clipbot.store import Store, StoreConflict

log = logging.getLogger(__name__)

# A channel's cards are reserved this many at a time, in one durable transaction, before they
# are posted one by one (the rest released when posting stops); after a crash they are in doubt.
RESERVE_AHEAD = 8

# A channel whose posts Slack refuses this many poll cycles in a row is marked broken.
BROKEN_AFTER = 5


def is_refusal(exc: SlackApiError) -> bool:
    """Whether Slack's error answer is the channel refusing the bot's posts (any error but
    rate limiting and Slack's own trouble), which counts towards marking it broken."""
    return classify(exc) is not SlackFailure.TRANSIENT


# -- cards and digests ---------------------------------------------------------------------------


class _Stopping(Exception):
    """Stop between two posts: the rest waits for the next cycle (or the new leader)."""


@dataclass
class ChannelOutcome:
    """What delivering one channel's batch did."""

    channel_id: str
    posted: int = 0  # clips now in the channel (a digest counts each of its clips)
    digests: int = 0
    broken: str | None = None  # why the channel was marked broken just now
    error: str | None = None  # why posting stopped, when it will be tried again
    held_ms: int | None = None  # createdAtMs of the first clip not delivered


def reserve_first(store: Store, channels: list[list[Card]]) -> set[str]:
    """Reserves the first message of every channel's cards (a card, or the digest; not a thread
    line, which turns into a card when its card is gone) in one durable transaction, before
    any is posted: a clip for many channels waits for the disk once, not once per channel. The
    channels whose first message is reserved now; the others reserve it as they post it (and
    meet the clip another process holds)."""
    firsts = [_first(cards) for cards in channels if cards[0].kind is not CardKind.LINE]
    reserved = store.reserve_each(firsts) if firsts else []
    return {first[0].channel_id for first, done in zip(firsts, reserved, strict=True) if done}


def _reserve_ahead(store: Store, cards: list[Card]) -> list[str]:
    """Reserves the next RESERVE_AHEAD cards of a channel's (up to its next thread line, which
    is reserved as it is sent) in one durable transaction: the channel waits for the disk once
    per RESERVE_AHEAD cards, not once per card. Their uuids, the longest run reserved from the
    first (the ones after a card another process holds are released again); StoreConflict when
    the first is held."""
    run: list[Card] = []
    for card in cards[:RESERVE_AHEAD]:
        if card.kind is CardKind.LINE:
            break
        run.append(card)
    done = store.reserve_each([[card] for card in run])
    taken = done.index(False) if False in done else len(done)
    behind = [c.clip.uuid for c, ok in zip(run[taken:], done[taken:], strict=True) if ok]
    if behind:
        store.release(run[0].channel_id, behind)
    if not taken:
        raise StoreConflict(f"clip {run[0].clip.uuid} in {run[0].channel_id} is reserved")
    return [c.clip.uuid for c in run[:taken]]


def _first(cards: list[Card]) -> list[Card]:
    """The cards of the first message posted for a channel's cards."""
    return cards if cards[0].kind is CardKind.DIGEST else cards[:1]


def deliver(
    store: Store,
    poster: SlackPoster,
    cards: list[Card],
    console_url: str,
    carry_on: Callable[[], bool],
    *,
    share: bool = True,
    video_max_bytes: int = 0,
    notify: str | None = None,
    refusals: int | None = None,
    reserved: bool = False,
    prepare: Callable[[Card], Card] = lambda card: card,
    progress: Callable[[], object] = lambda: None,
) -> ChannelOutcome:
    """Posts one channel's cards in order (or their digest), each written down before it is
    sent and confirmed after, while `carry_on()` (False: the process is stopping, or this
    replica no longer leads). Stops at the first failure; a channel that refuses posts
    BROKEN_AFTER cycles in a row (any refusal; at once for the known ones) is marked broken.
    `share`, `video_max_bytes`: which buttons the cards show (see blocks.clip_card); `notify`:
    the subscription's mention, at the start of each message; `refusals`: the channel's
    refusals in a row on record (None: unknown), cleared after a post only when some;
    `reserved`: the first message is reserved already (`reserve_first`), and released when it
    is not sent after all; the cards after it are reserved RESERVE_AHEAD at a time
    (`_reserve_ahead`), and those not sent are released too; `prepare(card)`: the card as it
    is to be posted, completed just before (its thumbnail, uploaded meanwhile); `progress()`:
    called after each message sent."""
    channel = cards[0].channel_id
    outcome = ChannelOutcome(channel)
    digest = cards[0].kind is CardKind.DIGEST
    # Reserved and not sent yet, in order: the first message (`reserved`), or the next cards.
    ahead: list[str] = [c.clip.uuid for c in _first(cards)] if reserved else []
    try:
        for at, each in enumerate([cards] if digest else [[card] for card in cards]):
            if not carry_on():
                raise _Stopping
            if not digest and each[0].kind is not CardKind.LINE and not ahead:
                ahead = _reserve_ahead(store, cards[at:])
            batch = each if digest else [prepare(each[0])]
            # Again once the card is complete (its thumbnail may take long): a first message
            # reserved ahead meets no store write before it is sent, and a replica that lost
            # the lease meanwhile must not send it (the new leader settles it as in doubt).
            if not carry_on():
                raise _Stopping
            if batch[0].kind is CardKind.LINE:
                # Burst grouping: a line in its card's thread, counted on the card when confirmed.
                line, thread_ts = batch[0], lines.parent_ts(store, batch[0])
                if thread_ts is not None:
                    message = lines.line_message(line, console_url, thread_ts)
                    send(store, poster, batch, message, blocks.clip_metadata(line.clip))
                    outcome.posted += 1
                    progress()
                    continue
                batch = [replace(line, kind=CardKind.CARD, group_of=None)]  # its card is gone
            if digest:
                message = blocks.digest(cards, console_url)
                metadata = blocks.digest_metadata(cards)
            else:
                message = blocks.clip_card(
                    batch[0], console_url, share=share, video_max_bytes=video_max_bytes
                )
                metadata = blocks.clip_metadata(batch[0].clip)
            sending = bool(ahead) and ahead[0] == batch[0].clip.uuid
            if sending:  # from here on `send` keeps or releases it
                ahead = [] if digest else ahead[1:]
            send(
                store,
                poster,
                batch,
                blocks.mentioning(message, notify),
                metadata,
                reserved=sending,
            )
            outcome.posted += len(batch)
            progress()
        outcome.digests = int(digest)
    except (_Stopping, StoreConflict):
        # StoreConflict: another replica reserved the clip first, so it is posting it.
        outcome.held_ms = cards[outcome.posted].clip.created_at_ms
    except ChannelBroken as exc:
        outcome.broken = exc.reason
        store.mark_broken(channel, exc.reason)
    except (SlackApiError, *IN_DOUBT) as exc:
        outcome.held_ms = min(c.clip.created_at_ms for c in cards[outcome.posted :])
        _failed(store, outcome, exc)
    finally:
        if ahead:  # certainly not sent: the next cycle posts them
            store.release(channel, ahead)
    took = outcome.posted and outcome.broken is None and outcome.error is None
    if took and refusals != 0:
        store.clear_refusals(channel)
    if outcome.broken:
        log.warning(
            "channel %s is broken (%s): skipping it until resubscribed", channel, outcome.broken
        )
    return outcome


def _failed(store: Store, outcome: ChannelOutcome, exc: Exception) -> None:
    reason, channel = slack_error(exc), outcome.channel_id
    if outcome.posted:
        store.clear_refusals(channel)  # it took a post this cycle: refusals start over
    refused = isinstance(exc, SlackApiError) and is_refusal(exc)
    if refused and store.record_refusal(channel, reason, BROKEN_AFTER):
        outcome.broken = reason
        return
    # DEBUG: the poll job logs a failure that repeats when it starts and ends (jobs.Streak).
    log.debug("posting to %s failed: %s; will retry next cycle", channel, reason)
    outcome.error = f"Slack posting to {channel} failed: {reason}"


def send(
    store: Store,
    poster: SlackPoster,
    cards: list[Card],
    message: blocks.Message,
    metadata: dict[str, object],
    *,
    reserved: bool = False,
) -> None:
    """Posts one message standing for `cards` (one card, or a digest) in their channel,
    reserving them first unless `reserved` (they are already).

    Raises what the poster raises: SlackApiError or ChannelBroken (nothing posted, reservation
    gone), or an IN_DOUBT failure (reservation kept for `settle`).
    """
    channel, uuids = cards[0].channel_id, [c.clip.uuid for c in cards]
    if not reserved:
        store.reserve(cards)
    try:
        sent = poster.post(channel, message, metadata)
    except (SlackApiError, ChannelBroken):
        store.release(channel, uuids)
        raise
    store.confirm(
        channel,
        uuids,
        sent.ts,
        thumbnail_pending=sent.image_refused,
        # Reserved ahead, the card was written before its thumbnail was uploaded.
        thumbnail_file_id=cards[0].thumbnail_file_id if len(cards) == 1 else None,
    )


def settle(store: Store, poster: SlackPoster) -> None:
    """Settles every message in doubt: found in Slack → confirmed; certainly absent → released
    (cards) or sent again (replies); Slack unreachable → left for the next try."""
    _settle_cards(store, poster)
    lines.settle(store, poster)
    replying.settle(store, poster)


def _settle_cards(store: Store, poster: SlackPoster) -> None:
    by_channel: dict[str, list[Card]] = defaultdict(list)
    for card in store.in_doubt():
        if card.kind is not CardKind.LINE:  # lines are looked for in their card's thread
            by_channel[card.channel_id].append(card)
    for channel, cards in by_channel.items():
        try:
            # Slack's own clock: anything after the last card confirmed before the doubt.
            found = poster.find_posted(channel, store.last_ts_before_doubt(channel))
        except SlackApiError as exc:
            if not refused_for_good(exc):  # Slack's trouble: the card may well be there
                log.warning("cannot check %s for interrupted posts (%s)", channel, slack_error(exc))
                continue
            # Slack refused (no history scope, say): post again rather than risk a loss.
            log.warning(
                "cannot check %s for interrupted posts (%s): posting them again",
                channel,
                slack_error(exc),
            )
            found = {}
        except IN_DOUBT as exc:
            log.warning("cannot reach Slack to check %s (%s)", channel, slack_error(exc))
            continue
        # One confirm per message, so the clips of one digest are confirmed together: a digest
        # half confirmed would hide its own ts from the next look (it searches after it).
        by_ts: dict[str, list[str]] = defaultdict(list)
        for card in cards:
            # A digest's clips are found by its key (older releases listed each uuid).
            if (ts := found.get(card.digest_of or "") or found.get(card.clip.uuid)) is not None:
                by_ts[ts].append(card.clip.uuid)
        for ts, uuids in sorted(by_ts.items(), key=lambda item: float(item[0])):
            store.confirm(channel, uuids, ts)
        confirmed = {uuid for uuids in by_ts.values() for uuid in uuids}
        store.release(channel, [c.clip.uuid for c in cards if c.clip.uuid not in confirmed])
