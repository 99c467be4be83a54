"""Card redraws: a posted card edited to show what the store holds now, used by the poller
and the buttons alike."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from clipbot import blocks
from clipbot.notify import SlackPoster
from clipbot.slack_errors import IN_DOUBT, slack_error
from clipbot.state import Card, CardKind
from clipbot.store import Store
from clipbot.threadline import grouped_line

log = logging.getLogger(__name__)

REDRAW_TRIES = 5  # draws of one card in a row while others keep changing it


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
