"""Thread replies (a press's line, a reminder, a share link): each posted once per key.

A reply goes like a card (see delivery.py): written down and claimed before it is sent,
confirmed with its `ts` after, released when Slack refused it. One whose answer was lost is in
doubt; `settle` looks for it in its thread by its metadata and confirms it, or sends it again.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from clipbot import blocks
from clipbot.notify import SlackPoster
from clipbot.slack_errors import IN_DOUBT, refused_for_good, slack_error
from clipbot.state import ThreadReply
from clipbot.store import Store

log = logging.getLogger(__name__)

# How long a thread reply is claimed by the replica sending or settling it (see
# Store.claim_reply): longer than one post can take (a 30 s timeout, up to 5 waits of Slack's
# Retry-After, the channel's pacing). A replica that dies mid-post leaves its line to the
# leader's settle once this runs out.
REPLY_CLAIM_MS = 10 * 60_000


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


def settle(store: Store, poster: SlackPoster) -> None:
    """Settles every reply in doubt and not claimed: found in its thread → confirmed;
    certainly absent → sent again; Slack unreachable → left for the next try."""
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
    rather than lose the line); None if Slack cannot be reached or is in trouble (ask later)."""
    try:
        return poster.find_replies(channel, thread_ts)
    except SlackApiError as exc:
        log.warning("cannot read the thread in %s (%s)", channel, slack_error(exc))
        return {} if refused_for_good(exc) else None
    except IN_DOUBT as exc:
        log.warning("cannot reach Slack to read a thread in %s (%s)", channel, slack_error(exc))
        return None
