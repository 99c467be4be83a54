"""Delivery: every message clipbot posts goes reserve → post → confirm, and in doubt is settled.

A message is written down (reserved) before it is sent and confirmed with its `ts` after. If
Slack answered with an error, nothing was posted and the reservation goes. If the answer never
came (the process died, the connection closed, a timeout), the message is *in doubt*: it may
be in Slack or not. It is never sent again blindly; `settle` looks for it by its metadata in
the channel's history (cards, digests) or the thread (replies) and only then confirms it or
sends it again. Card redraws, used by the poller and the buttons alike, live here too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import blocks, lines
from clipbot.notify import ChannelBroken, SlackPoster
from clipbot.slack_errors import SlackFailure, classify, slack_error
from clipbot.state import Card, CardKind, ThreadReply
from clipbot.store import Store, StoreConflict
from clipbot.threadline import grouped_line

log = logging.getLogger(__name__)

# A channel whose posts Slack refuses this many poll cycles in a row is marked broken.
BROKEN_AFTER = 5
REDRAW_TRIES = 5  # draws of one card in a row while others keep changing it
# Failures after which nobody knows whether Slack acted: the message is in doubt.
IN_DOUBT = (SlackClientError, OSError)
# How long a thread reply is claimed by the replica sending or settling it (see
# Store.claim_reply): longer than one post can take (a 30 s timeout, up to 5 waits of Slack's
# Retry-After, the channel's pacing). A replica that dies mid-post leaves its line to the
# leader's settle once this runs out.
REPLY_CLAIM_MS = 10 * 60_000


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
    `prepare(card)`: the card as it is to be posted, completed just before (its thumbnail,
    uploaded meanwhile); `progress()`: called after each message sent."""
    channel = cards[0].channel_id
    outcome = ChannelOutcome(channel)
    digest = cards[0].kind is CardKind.DIGEST
    try:
        for each in [cards] if digest else [[card] for card in cards]:
            if not carry_on():
                raise _Stopping
            batch = each if digest else [prepare(each[0])]
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
            send(store, poster, batch, blocks.mentioning(message, notify), metadata)
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
) -> None:
    """Posts one message standing for `cards` (one card, or a digest) in their channel.

    Raises what the poster raises: SlackApiError or ChannelBroken (nothing posted, reservation
    gone), or an IN_DOUBT failure (reservation kept for `settle`).
    """
    channel, uuids = cards[0].channel_id, [c.clip.uuid for c in cards]
    store.reserve(cards)
    try:
        sent = poster.post(channel, message, metadata)
    except (SlackApiError, ChannelBroken):
        store.release(channel, uuids)
        raise
    store.confirm(channel, uuids, sent.ts, thumbnail_pending=sent.image_refused)


def settle(store: Store, poster: SlackPoster) -> None:
    """Settles every message in doubt: found in Slack → confirmed; certainly absent → released
    (cards) or sent again (replies); Slack unreachable → left for the next try."""
    _settle_cards(store, poster)
    lines.settle(store, poster)
    _settle_replies(store, poster)


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
            # Slack answered (no history scope, say): post again rather than risk a loss.
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


# -- thread replies ------------------------------------------------------------------------------


def reply(
    store: Store,
    poster: SlackPoster,
    *,
    channel: str,
    thread_ts: str,
    key: str,
    text: str,
    at_ms: int,
) -> bool:
    """Posts one line in a card's thread, once per `key` (what the line records: a press, a
    reminder, a share link). True when it is known to be posted; False when Slack refused it
    (logged) or its answer was lost (then `settle` finds or re-sends it)."""
    line = ThreadReply(key, channel, thread_ts, text, at_ms)
    if not store.reserve_reply(line, claim_ms=REPLY_CLAIM_MS):
        return False
    return _send_reply(store, poster, line)


def _send_reply(store: Store, poster: SlackPoster, line: ThreadReply) -> bool:
    """Posts a reply the caller has claimed; the claim ends with the answer."""
    try:
        ts = poster.reply(
            line.channel_id, line.thread_ts, line.text, blocks.reply_metadata(line.key)
        )
    except SlackApiError as exc:
        store.release_reply(line.key)
        log.warning("thread reply in %s failed: %s", line.channel_id, slack_error(exc))
        return False
    except IN_DOUBT as exc:
        store.unclaim_reply(line.key)
        log.warning(
            "thread reply in %s is in doubt (%s): will look for it",
            line.channel_id,
            slack_error(exc),
        )
        return False
    store.confirm_reply(line.key, ts)
    return True


def _settle_replies(store: Store, poster: SlackPoster) -> None:
    found: dict[tuple[str, str], dict[str, str] | None] = {}
    for line in store.replies_in_doubt():
        # A claim still running: some replica (this one, too) is posting it right now, so it
        # is in flight, not in doubt.
        if store.claim_reply(line.key, REPLY_CLAIM_MS):
            _settle_reply(store, poster, line, found)


def _settle_reply(
    store: Store,
    poster: SlackPoster,
    line: ThreadReply,
    found: dict[tuple[str, str], dict[str, str] | None],
) -> None:
    thread = (line.channel_id, line.thread_ts)
    if thread not in found:
        found[thread] = _replies_in(poster, *thread)
    keys = found[thread]
    if keys is None:
        store.unclaim_reply(line.key)  # Slack cannot be reached: ask again next time
        return
    if line.key in keys:
        store.confirm_reply(line.key, keys[line.key])
    else:
        _send_reply(store, poster, line)


def _replies_in(poster: SlackPoster, channel: str, thread_ts: str) -> dict[str, str] | None:
    """Reply key → ts of clipbot's lines in a thread; {} if Slack will not show it (post again
    rather than lose the line); None if Slack cannot be reached (ask again later)."""
    try:
        return poster.find_replies(channel, thread_ts)
    except SlackApiError as exc:
        log.warning("cannot read the thread in %s (%s)", channel, slack_error(exc))
        return {}
    except IN_DOUBT as exc:
        log.warning("cannot reach Slack to read a thread in %s (%s)", channel, slack_error(exc))
        return None


# -- card redraws --------------------------------------------------------------------------------


def redraw(
    store: Store,
    poster: SlackPoster,
    clip_uuid: str,
    channel: str,
    console_url: str,
    *,
    share: bool = True,
    video_max_bytes: int = 0,
    unshown_only: bool = False,
) -> bool:
    """Edits a card to show what the store holds now (the one way cards are redrawn).

    Edits of one card are serialised in this process, and each is checked against the store
    afterwards (`Store.mark_shown`): when the card changed meanwhile, or another replica's newer
    picture landed first and this edit overwrote it, the card is drawn again from the store.

    `share` False leaves the Share link button out (CLIPBOT_SHARE=off); `video_max_bytes`: see
    blocks.clip_card. `unshown_only`: no edit when Slack is known to show the card as stored.

    False when the edit failed or its thumbnail had to be left out, so it is worth another try.
    """
    with poster.card_lock(clip_uuid, channel):
        for _ in range(REDRAW_TRIES):
            card = store.card(clip_uuid, channel)
            if card is None or card.ts is None or card.kind is CardKind.DIGEST:
                return True
            if unshown_only and card.shown_rev >= card.rev:
                return True  # drawn meanwhile (by the press that changed it, say)
            try:
                message = _drawn(store, card, console_url, share, video_max_bytes)
                shown = poster.update(channel, card.ts, message)
            except (SlackApiError, *IN_DOUBT) as exc:
                log.warning(
                    "could not edit the card of %s in %s: %s", clip_uuid, channel, slack_error(exc)
                )
                return False
            store.set_thumbnail_pending(card, not shown)
            if store.mark_shown(card):
                return shown
    log.warning("the card of %s in %s kept changing while it was redrawn", clip_uuid, channel)
    return False


def _drawn(
    store: Store, card: Card, console_url: str, share: bool, video_max_bytes: int
) -> blocks.Message:
    """What a posted card (or a grouped clip's thread line) shows now."""
    if card.kind is CardKind.LINE:
        return grouped_line(card, console_url)
    sub = store.subscription(card.channel_id)  # a card keeps naming who its channel notifies
    message = blocks.clip_card(card, console_url, share=share, video_max_bytes=video_max_bytes)
    return blocks.mentioning(message, sub.notify if sub else None)
