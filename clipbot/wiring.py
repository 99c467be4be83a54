"""The outside clients made from Settings: Rhombus (auth, timeouts) and Slack (retry policy).

clipbot.bot puts them together with everything else; `clipbot check` and `clipbot clips` use
them alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from clipbot.config import Settings
from clipbot.metrics import ObservedWebClient
from clipbot.rhombus import RhombusAuth, RhombusClient
from clipbot.stopping import RateLimitRetry, Stop, UntilStop

HTTP_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
# Connections kept open to Rhombus between requests: enough for every thumbnail fetched at
# once (clipbot.thumbnails.THUMBNAIL_CONCURRENCY) and a feed page, none opened per image.
HTTP_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=64)

# Web API methods that may be sent again after a connection failure: reads, and writes that
# leave the same result however often they arrive. Everything else (chat.postMessage above all)
# may have been done by Slack before the answer was lost, so it is never re-sent blindly: the
# caller treats it as in doubt and looks for it (see clipbot.delivery).
RESENDABLE = frozenset(
    {
        "auth.test",
        "apps.connections.open",
        "chat.getPermalink",
        "chat.update",
        "conversations.history",
        "conversations.info",
        "conversations.replies",
        "files.completeUploadExternal",
        "files.getUploadURLExternal",
        "users.info",
        "views.publish",
    }
)


def rhombus_client(
    settings: Settings,
    http: httpx.Client | None = None,
    stop: Stop | None = None,
    on_error: Callable[[str], object] = lambda kind: None,
    *,
    now_ms: Callable[[], int] | None = None,
    page_size: int | None = None,
    sleep: Callable[[float], object] | None = None,
) -> RhombusClient:
    """A RhombusClient for the configured tenant; with `stop`, its waits wake on the stop and
    its connections are cut by it. `on_error(kind)` hears of each failed attempt. `now_ms`,
    `page_size` and `sleep` replace the client's own clock, page size and backoff wait."""
    auth = RhombusAuth(
        api_key=settings.rhombus_api_key,
        scheme=settings.rhombus_auth_scheme,
        org_uuid=settings.rhombus_org_uuid,
    )
    transport = stop.transport(limits=HTTP_LIMITS) if stop else None
    return RhombusClient(
        http
        or httpx.Client(
            timeout=HTTP_TIMEOUT, limits=HTTP_LIMITS, follow_redirects=True, transport=transport
        ),
        auth,
        settings.rhombus_api_url,
        settings.rhombus_media_url,
        sleep=sleep or (stop.sleep if stop else time.sleep),
        on_error=on_error,
        **given(now_ms=now_ms, page_size=page_size),
    )


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments that were given, so the rest keep the callee's own defaults."""
    return {name: value for name, value in values.items() if value is not None}


class ResendableConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Retries a connection failure only for methods in RESENDABLE."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return method_of(request.url) in RESENDABLE and super()._can_retry(
            state=state, request=request, response=response, error=error
        )


def method_of(url: str) -> str:
    """The Web API method of a request URL: `https://slack.com/api/chat.postMessage` → its name."""
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def slack_retry_handlers(stop: Stop | None = None) -> list[RetryHandler]:
    """Retries where Slack certainly did nothing (429 with Retry-After; with `stop`, that wait
    wakes on the stop; not after a lease is lost: stopping.resending_while), and connection
    failures of methods that are safe to send twice."""
    # Without a stop, one that never comes: the wait still gives up once `resending_while`'s
    # check fails (a lease lost).
    rate_limit = RateLimitRetry(stop or Stop(), max_retry_count=5)
    connection: RetryHandler = ResendableConnectionErrorRetryHandler(max_retry_count=2)
    return [UntilStop(connection, stop) if stop else connection, rate_limit]


def slack_client(
    settings: Settings,
    token: str | None = None,
    stop: Stop | None = None,
    on_error: Callable[[str], None] = lambda code: None,
) -> WebClient:
    """A WebClient that honours Slack's Retry-After on 429 (with `stop`, that wait wakes on the
    stop) and never re-sends a message whose answer was lost (see RESENDABLE). `on_error(code)`
    hears of each failed call."""
    return ObservedWebClient(
        on_error=on_error,
        token=token or settings.slack_bot_token.reveal(),
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=slack_retry_handlers(stop),
    )
