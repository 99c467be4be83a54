"""Who clipbot acts for: each delivery once, and never a Slack guest.

`Gate.admits` runs after the acknowledgement has gone (see clipbot.slack.ackfirst), in the
listener pool, before any listener's work:

- once: Slack delivers again what it thinks was not acknowledged in time (HTTP mode sends
  `X-Slack-Retry-Num`; Socket Mode redelivers the envelope with a `retry_attempt`). The
  delivery's key (`event_id`, or the `trigger_id` each command, press and modal submission gets)
  is written to the store before acting; a key seen before is not acted on, so nothing
  subscribes, claims or shares twice, across restarts and replicas alike. Two copies of one
  delivery being acted on at once are settled by the store: one of them writes the key first.
- members only: single- and multi-channel guests (`users.info` → `is_restricted` /
  `is_ultra_restricted`) get a short refusal for `/clips`, every button, the note modal and the
  Home tab. Lookups are cached (`Guests`); a failed lookup refuses too, and says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot.blocks import section
from clipbot.notify import SlackPoster
from clipbot.slack.answering import tell_submitter
from clipbot.slack_errors import slack_error
from clipbot.store import Store, StoreError

log = logging.getLogger(__name__)

GUEST_TTL_S = 300.0  # how long a users.info answer is trusted
DELIVERY_TTL_MS = 3_600_000  # how long a delivery key is remembered (Slack retries for minutes)
GUEST_REFUSAL = (
    "Sorry, clipbot is not available to guests of this workspace: security footage is for "
    "full members only."
)
NO_USER = "clipbot could not tell who sent this, so it is not going ahead."
LOOKUP_FAILED = (
    "clipbot could not check your Slack account just now ({error}), so it is not going ahead. "
    "Please try again in a minute."
)


class Guests:
    """Whether Slack users are guests, from `users.info` (scope `users:read`), cached.

    `refusal(poster, user_id)` is None for a full member, else the short text to show them:
    a guest, a deactivated account, or a lookup that failed (not cached: the next try asks).
    """

    def __init__(self, ttl_s: float = GUEST_TTL_S, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[bool, float]] = {}  # user ID -> (guest?, trusted until)
        self._lock = threading.Lock()

    def refusal(self, poster: SlackPoster, user_id: str) -> str | None:
        guest = self._cached(user_id)
        if guest is None:
            try:
                user = poster.user_info(user_id)
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("users.info for %s failed: %s", user_id, slack_error(exc))
                return LOOKUP_FAILED.format(error=slack_error(exc))
            guest = any(bool(user.get(f)) for f in ("is_restricted", "is_ultra_restricted"))
            guest = guest or bool(user.get("deleted"))
            with self._lock:
                self._known[user_id] = (guest, self._clock() + self._ttl_s)
        return GUEST_REFUSAL if guest else None

    def _cached(self, user_id: str) -> bool | None:
        with self._lock:
            guest, until = self._known.get(user_id, (False, 0.0))
            if until > self._clock():
                return guest
            self._known.pop(user_id, None)
        return None


class Gate:
    """Each delivery once, and never for a guest: see the module's docstring."""

    def __init__(
        self, store: Store, guests: Guests, poster: SlackPoster, now_ms: Callable[[], int]
    ) -> None:
        self._store, self._guests, self._poster, self._now_ms = store, guests, poster, now_ms

    def admits(
        self, body: dict[str, Any], user: str, retry: str | None, respond: Respond | None
    ) -> bool:
        """Whether to act on a delivery (an acknowledged request's `body`, from `user`; `retry`
        is Slack's retry number, if it says): True the first time it comes from a full member.
        A repeat is dropped without a word (before any lookup); a guest is told no."""
        return self._first(body, retry) and self._member(body, user, respond)

    def _first(self, body: dict[str, Any], retry: str | None) -> bool:
        key = delivery_key(body)
        if key is None:
            return True
        at = self._now_ms()
        try:
            first = self._store.first_delivery(key, at, forget_before_ms=at - DELIVERY_TTL_MS)
        except StoreError as exc:
            # Rather act than drop it: the listener, needing the store too, says what failed.
            log.warning("could not note delivery %s (%s): acting on it", key, exc)
            return True
        if not first:
            log.info("delivery %s came again (retry %s): not acted on", key, retry or "?")
        return first

    def _member(self, body: dict[str, Any], user: str, respond: Respond | None) -> bool:
        kind = _gated(body)
        if not kind:
            return True
        # No user named: nobody to check, so no one is let in (Slack always names one).
        refusal = self._guests.refusal(self._poster, user) if user else NO_USER
        if refusal is None:
            return True
        why = {GUEST_REFUSAL: "a guest", NO_USER: "no user named"}.get(refusal, "users.info failed")
        log.info("refused a %s from %s: %s", kind, user, why)
        self._refuse(kind or "", refusal, body, user, respond)
        return False

    def _refuse(
        self, kind: str, refusal: str, body: dict[str, Any], user: str, respond: Respond | None
    ) -> None:
        """Says no: on the Home tab, to a submitted note form's author (its modal is closed by
        then: see answering.tell_submitter), or through the command's or press's response_url."""
        try:
            if kind == "app_home_opened":
                self._poster.publish_home(user, {"type": "home", "blocks": [section(refusal)]})
            elif kind == "view_submission":
                tell_submitter(self._poster, body, user, refusal)
            elif respond is not None:
                respond(text=refusal, response_type="ephemeral", replace_original=False)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not tell %s no: %s", user, slack_error(exc))


def delivery_key(body: dict[str, Any]) -> str | None:
    """What identifies one delivery: the event's `event_id`, else the `trigger_id` that every
    command, button press and view submission carries; None for anything else."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


def _gated(body: dict[str, Any]) -> str | None:
    """Which kind of request the guest check applies to, or None."""
    if body.get("command"):
        return "command"
    if body.get("type") in ("block_actions", "view_submission"):
        return str(body["type"])
    if (body.get("event") or {}).get("type") == "app_home_opened":
        return "app_home_opened"
    return None
