"""Builds clipbot's parts from Settings: the only place that knows how they fit together."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from clipbot.config import Settings
from clipbot.metrics import ObservedWebClient
from clipbot.notify import SlackPoster
from clipbot.rhombus import RhombusAuth, RhombusClient
from clipbot.stopping import RateLimitRetry, Stop
from clipbot.store import Store
from clipbot.video import MB, VideoDesk

HTTP_TIMEOUT = httpx.Timeout(20.0, connect=10.0)


def rhombus_client(
    settings: Settings,
    http: httpx.Client | None = None,
    stop: Stop | None = None,
    on_error: Callable[[str], object] = lambda kind: None,
) -> RhombusClient:
    """A RhombusClient for the configured tenant; with `stop`, its waits wake on the stop and
    its connections are cut by it. `on_error(kind)` hears of each failed attempt."""
    auth = RhombusAuth(
        api_key=settings.rhombus_api_key,
        scheme=settings.rhombus_auth_scheme,
        org_uuid=settings.rhombus_org_uuid,
    )
    transport = stop.transport() if stop else None
    return RhombusClient(
        http or httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True, transport=transport),
        auth,
        settings.rhombus_api_url,
        settings.rhombus_media_url,
        sleep=stop.wait if stop else time.sleep,
        on_error=on_error,
    )


def slack_client(
    settings: Settings,
    token: str | None = None,
    stop: Stop | None = None,
    on_error: Callable[[str], None] = lambda code: None,
) -> WebClient:
    """A WebClient that retries connection errors and honours Slack's Retry-After on 429 (with
    `stop`, that wait wakes on the stop). `on_error(code)` hears of each failed call."""
    rate_limit = (
        RateLimitRetry(stop, max_retry_count=5)
        if stop
        else RateLimitErrorRetryHandler(max_retry_count=5)
    )
    return ObservedWebClient(
        on_error=on_error,
        token=token or settings.slack_bot_token.reveal(),
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), rate_limit],
    )


def video_desk(
    settings: Settings, store: Store, rhombus: RhombusClient, poster: SlackPoster
) -> VideoDesk | None:
    """What answers the Video button; None when CLIPBOT_VIDEO_MAX_MB is 0 (no button)."""
    if settings.video_max_mb == 0:
        return None
    return VideoDesk(
        store,
        rhombus,
        poster,
        media_url=settings.rhombus_media_url,
        console_url=settings.rhombus_console_url,
        max_bytes=settings.video_max_mb * MB,
        now_ms=lambda: int(time.time() * 1000),
        access=settings.access,
    )
