"""Slack's failures, classified once: what a failed Web API call means for whoever made it.

Used by the gateway (`clipbot.notify.SlackPoster`), delivery and the listeners alike, so a
Slack error code is read the same way everywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

# Failures after which nobody knows whether Slack acted: a message sent is in doubt.
IN_DOUBT = (SlackClientError, OSError)
# Answers that mean the bot cannot post to the channel until a person fixes something.
BROKEN_CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"}
)
ARCHIVED = frozenset({"is_archived", "channel_is_archived"})
# Answers that mean Slack itself is in trouble or wants us slower, not that it refuses us.
SLACK_TROUBLE = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackFailure(enum.Enum):
    """What a failed Web API call means."""

    BROKEN_CHANNEL = "broken_channel"  # the channel refuses the bot until a person acts
    IMAGE_REFUSED = "image_refused"  # an image's file is not ready yet: send it without
    TRANSIENT = "transient"  # Slack's trouble, its rate limit, or no answer: try again later
    PERMANENT = "permanent"  # any other refusal: the same request will be refused again


def slack_error(exc: Exception) -> str:
    """A short description of a Slack failure (its error code, or the kind of connection
    failure), never with tokens."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "unknown_error"))
    return type(exc).__name__


def classify(exc: Exception, message: Mapping[str, Any] | None = None) -> SlackFailure:
    """The kind of a Slack failure; `message` (the Block Kit sent, if any) tells an image
    Slack is not ready to show from blocks it refuses outright."""
    if not isinstance(exc, SlackApiError):
        return SlackFailure.TRANSIENT  # no answer (connection, timeout): Slack may have acted
    code = slack_error(exc)
    status = exc.response.status_code if exc.response is not None else 200
    if code in BROKEN_CHANNEL_ERRORS:
        return SlackFailure.BROKEN_CHANNEL
    images = [b for b in (message or {}).get("blocks") or [] if b.get("type") == "image"]
    if code == "invalid_blocks" and images:
        return SlackFailure.IMAGE_REFUSED
    if status >= 500 or code in SLACK_TROUBLE:
        return SlackFailure.TRANSIENT
    return SlackFailure.PERMANENT


def refused_for_good(exc: SlackApiError) -> bool:
    """Whether Slack's error answer to a read of a channel's history or a thread is a refusal
    (no history scope, not in the channel…), after which a message in doubt is posted again
    rather than lost. False for Slack's own trouble (5xx, `internal_error`, its rate limit
    beyond the retries): the message may well be there, so the read is tried again later."""
    return classify(exc) is not SlackFailure.TRANSIENT


def channel_fix(reason: str) -> str:
    """What a person must do so clipbot can post again in a channel that refused it with
    `reason` (one of BROKEN_CHANNEL_ERRORS, or any other Slack error code), in a clause."""
    if reason in ARCHIVED:
        return "the channel is archived: unarchive it, then subscribe it again"
    if reason == "not_in_channel":
        return "clipbot is not in the channel: `/invite @clipbot` there, then subscribe it again"
    if reason == "channel_not_found":
        return (
            "clipbot cannot see the channel (private and not invited, or deleted): "
            "`/invite @clipbot` there, then subscribe it again"
        )
    return "subscribe it again once Slack lets clipbot post there"


def slack_credentials_problem(exc: SlackApiError) -> str:
    """Which Slack token was refused, in words."""
    error = exc.response.get("error", "unknown error")
    url = str(getattr(exc.response, "api_url", ""))
    token = "SLACK_APP_TOKEN" if "apps.connections.open" in url else "SLACK_BOT_TOKEN"
    return f"Slack rejected {token} ({error})"
