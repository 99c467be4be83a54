"""Who gets through to clipbot's listeners: each delivery once, and never a Slack guest.

Two global Bolt middlewares, run after Bolt's own (signature check, `ssl_check`,
`url_verification`), so they only ever see verified requests:

- `once`: Slack delivers again what it thinks was not acknowledged in time (HTTP mode sends
  `X-Slack-Retry-Num`; Socket Mode redelivers the envelope). The delivery's key (`event_id`,
  or the `trigger_id` each command, press and modal submission gets) is written to the store
  first; a key seen before is acknowledged without acting, so nothing subscribes, claims or
  shares twice, across restarts and replicas alike.
- `members_only`: single- and multi-channel guests (`users.info` → `is_restricted` /
  `is_ultra_restricted`) get a short refusal for `/clips`, every button, the note modal and the
  Home tab. Lookups are cached (`Guests`); a failed lookup refuses too, and says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot.blocks import section
from clipbot.notify import SlackPoster
from clipbot.slack_errors import slack_error
from clipbot.store import Store, StoreError

log = logging.getLogger(__name__)

GUEST_TTL_S = 300.0  # how long a users.info answer is trusted
DELIVERY_TTL_MS = 3_600_000  # how long a delivery key is remembered (Slack retries for minutes)
GUEST_REFUSAL = (
    "Sorry, clipbot is not available to guests of this workspace: security footage is for "
    "full members only."
)
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


def register(
    app: App, store: Store, guests: Guests, poster: SlackPoster, now_ms: Callable[[], int]
) -> None:
    """Installs both middlewares, `once` first (a repeated delivery costs no lookup)."""

    def once(
        req: BoltRequest, resp: BoltResponse, body: dict[str, Any], next_: Callable[[], None]
    ) -> BoltResponse:
        key = delivery_key(body)
        at = now_ms()
        try:
            first = key is None or store.first_delivery(
                key, at, forget_before_ms=at - DELIVERY_TTL_MS
            )
        except StoreError as exc:
            # Rather act than drop it: the listener, needing the store too, says what failed.
            log.warning("could not note delivery %s (%s): acting on it", key, exc)
            first = True
        if first:
            next_()
            return resp
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("delivery %s came again (retry %s): acknowledged, not acted on", key, retry)
        return BoltResponse(status=200, body="")

    def members_only(
        resp: BoltResponse,
        body: dict[str, Any],
        context: BoltContext,
        respond: Respond | None,
        next_: Callable[[], None],
    ) -> BoltResponse:
        kind = _gated(body)
        user = context.user_id or ""
        refusal = guests.refusal(poster, user) if kind and user else None
        if refusal is None:
            next_()
            return resp
        why = "a guest" if refusal == GUEST_REFUSAL else "users.info failed"
        log.info("refused a %s from %s: %s", kind, user, why)
        return _refuse(kind or "", refusal, body, user, poster, respond)

    app.middleware(once)
    app.middleware(members_only)


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


def _refuse(
    kind: str,
    refusal: str,
    body: dict[str, Any],
    user: str,
    poster: SlackPoster,
    respond: Respond | None,
) -> BoltResponse:
    """The acknowledgement that says no: in the command's answer, the modal's error, the
    presser's ephemeral reply, or the Home tab."""
    if kind == "command":
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": refusal})
    if kind == "view_submission":
        return BoltResponse(
            status=200, body={"response_action": "errors", "errors": {"note": refusal}}
        )
    try:
        if kind == "app_home_opened":
            poster.publish_home(user, {"type": "home", "blocks": [section(refusal)]})
        elif respond is not None:
            respond(text=refusal, response_type="ephemeral", replace_original=False)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not tell %s no: %s", user, slack_error(exc))
    return BoltResponse(status=200, body="")
