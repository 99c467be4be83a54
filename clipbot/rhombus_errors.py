"""Rhombus's two error channels read once: the HTTP status and the `error`/`errorMsg` body of an
answer become RhombusError (or RhombusAuthError), with the API key masked in Rhombus's words."""

from __future__ import annotations

import logging
from typing import Any

import httpx

log = logging.getLogger("clipbot.rhombus")


class RhombusError(Exception):
    """A Rhombus call failed; the message says which and why, never with credentials."""


class RhombusAuthError(RhombusError):
    """Rhombus rejected the API key, or its role lacks a permission."""


class RhombusUnavailable(RhombusError):
    """Rhombus kept failing (5xx, timeouts, connection errors, throttling) through every retry."""


SAID_CHARS = 300  # the most of Rhombus's own words (msg, errorMsg) passed on


def answer(operation: str, response: httpx.Response, api_key: str) -> dict[str, Any]:
    """The JSON of a non-retryable answer, or the error it stands for. Rhombus's own words in
    the error (`msg`, `errorMsg`) reach Slack replies, the CLI and the health record, so the
    API key is masked in them: an answer may quote the key it was sent."""
    status = response.status_code
    if status == 401:
        raise RhombusAuthError(
            "Rhombus rejected the API key (HTTP 401): check RHOMBUS_API_KEY and RHOMBUS_AUTH_SCHEME"
        )
    if status == 403:
        raise RhombusAuthError(
            f"Rhombus refused {operation} (HTTP 403): the API key is wrong "
            "or its role lacks permission for it"
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if status >= 400:
        detail = data.get("msg") or data.get("errorMsg") if isinstance(data, dict) else None
        detail = masked(detail or "no detail", api_key)
        raise RhombusError(f"Rhombus {operation} failed: HTTP {status}: {detail}")
    if not isinstance(data, dict):
        raise RhombusError(f"Rhombus {operation} answered with something that is not a JSON object")
    if data.get("error") is True:
        detail = masked(data.get("errorMsg") or "no errorMsg", api_key)
        raise RhombusError(f"Rhombus {operation} failed: {detail}")
    if data.get("warningMsg"):
        log.warning("rhombus %s warning: %s", operation, data["warningMsg"])
    return data


def masked(said: object, api_key: str) -> str:
    """What Rhombus said, as text, with the API key replaced by `***`, cut to SAID_CHARS
    (it reaches Slack replies, which Slack refuses past 40,000 characters, and the health
    record)."""
    text = str(said).replace(api_key, "***") if api_key else str(said)
    return text if len(text) <= SAID_CHARS else text[: SAID_CHARS - 1] + "…"


def retry_after(response: httpx.Response) -> float | None:
    try:
        return max(1.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def transport_problem(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"
