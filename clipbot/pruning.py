"""The leader's `prune` job: rows kept only for a while are deleted once they cannot matter.

Without it, ended mutes (and the clips they held), claims a dead replica left, confirmed thread
replies and, on a quiet bot, More-button states, delivery keys and audit entries would pile up
for as long as the database lives.
"""

from __future__ import annotations

import logging

from clipbot import audit, plan, video
from clipbot.report import DAY_MS, WEEK_MS
from clipbot.slack.gate import DELIVERY_TTL_MS
from clipbot.state import Expired
from clipbot.store import Store

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
MUTE_KEEP_MS = WEEK_MS  # an ended mute still counts what it held, for status, this long
REPLY_KEEP_MS = 30 * DAY_MS  # a posted thread reply's key: far past any retry of its press


def expired(store: Store, now_ms: int) -> Expired:
    """What has expired at `now_ms`. An ended mute is kept while any feed read may still reach
    back to it (a look-back behind the furthest-behind working subscription): the clips it held
    stay held however late they are read."""
    subs = [s for s in store.subscriptions() if not s.broken]
    oldest_read = min((s.since_ms for s in subs), default=now_ms) - plan.LOOKBACK_MS
    return Expired(
        now_ms=now_ms,
        mutes_ms=min(now_ms - MUTE_KEEP_MS, oldest_read),
        deliveries_ms=now_ms - DELIVERY_TTL_MS,
        video_fetches_ms=now_ms - video.STALE_MS,
        replies_ms=now_ms - REPLY_KEEP_MS,
        audit_ms=now_ms - audit.KEEP_MS,
    )


def prune(store: Store, now_ms: int) -> dict[str, int]:
    """Deletes what has expired at `now_ms` (epoch ms); how many rows, by kind (logged)."""
    pruned = store.prune(expired(store, now_ms))
    if gone := {kind: n for kind, n in pruned.items() if n}:
        log.info("pruned %s", ", ".join(f"{n} {kind}" for kind, n in gone.items()))
    return pruned
