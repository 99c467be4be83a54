"""The Rhombus API client: one httpx.Client, both error channels, retries and feed paging."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx

from clipbot.config import Secret
from clipbot.feed import Feed, Page
from clipbot.media import thumbnail_url, web_link
from clipbot.names import NameCache
from clipbot.records import Camera, Clip, OddRecords, SharedLink, User
from clipbot.rhombus_errors import RhombusAuthError as RhombusAuthError
from clipbot.rhombus_errors import RhombusError as RhombusError
from clipbot.rhombus_errors import RhombusUnavailable as RhombusUnavailable
from clipbot.rhombus_errors import answer, retry_after, transport_problem

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_ATTEMPTS = 4  # transient failures (5xx, timeouts, connection errors) before giving up
MAX_THROTTLED = 6  # 429 answers in a row before giving up
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
# Rhombus limits requests with a token bucket per organisation, shared by all of its keys; its
# refill is about one request a second (bursts of about ten). See the API notes on rate limits.
ORG_REFILL_PER_S = 1.0


def poll_budget_note(poll_seconds: int) -> str | None:
    """For polls faster than every 5 s: how much of the organisation's Rhombus rate budget the
    feed polling alone takes (an idle cycle is one getSavedClipsV2 call); None otherwise."""
    if poll_seconds >= 5:
        return None
    share = 100 / (poll_seconds * ORG_REFILL_PER_S)
    return (
        f"CLIPBOT_POLL_SECONDS={poll_seconds}: idle polling alone makes one Rhombus request every"
        f" {poll_seconds}s, about {share:.0f}% of the organisation's rate budget (about"
        f" {ORG_REFILL_PER_S:g} request/s, shared by all its API keys); cycles with new clips"
        " make more, and other tools using the same organisation may be throttled"
    )


# How far past this machine's clock a clip's createdAtMs may be (clock skew) before the clip
# is set aside as odd rather than followed.
FUTURE_SLACK_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class RhombusAuth:
    api_key: Secret
    scheme: str = "api-token"
    org_uuid: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"x-auth-apikey": self.api_key.reveal(), "x-auth-scheme": self.scheme}
        if self.org_uuid and self.scheme.startswith("partner"):
            headers["x-auth-org"] = self.org_uuid
        return headers


class RhombusClient:
    """Calls the Rhombus API over an injected httpx.Client."""

    def __init__(
        self,
        http: httpx.Client,
        auth: RhombusAuth,
        api_url: str,
        media_url: str,
        *,
        page_size: int = PAGE_SIZE,
        sleep: Callable[[float], object] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        jitter: Callable[[float, float], float] = random.uniform,
        on_error: Callable[[str], object] = lambda kind: None,
    ) -> None:
        """`on_error(kind)` hears of every failed attempt: timeout, connection, throttled,
        server (5xx), auth (401/403) or api (any other refusal)."""
        self._http = http
        self._auth = auth
        self._api_url = api_url.rstrip("/")
        self._media_url = media_url.rstrip("/")
        self._page_size = page_size
        self._sleep = sleep
        self._monotonic = monotonic
        self._now_ms = now_ms
        self._jitter = jitter
        self._on_error = on_error
        self._not_before = 0.0
        self._odd = OddRecords()
        self._feed = Feed(self.page, page_size, now_ms)
        self._cameras = NameCache(
            lambda: self._names("camera/getMinimalCameraStateList"), monotonic
        )
        self._users = NameCache(lambda: self._names("user/getUsersInOrg"), monotonic)

    def __repr__(self) -> str:
        return f"RhombusClient(api_url={self._api_url!r})"

    def __enter__(self) -> RhombusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the one HTTP loop ------------------------------------------------------------------

    def call(
        self, operation: str, body: Mapping[str, Any], *, resend: bool = True
    ) -> dict[str, Any]:
        """POST `body` to `/{operation}`; the answer's JSON, or a RhombusError saying why not.
        `resend` False: an operation that makes something (a share link) is sent again only when
        it certainly did not arrive (no connection, or a 429); after a 5xx or a lost answer it
        may have been done, so RhombusUnavailable says so at once."""
        failures = throttled = 0
        while True:
            self._wait_for_rate_limit()
            try:
                response = self._http.post(
                    f"{self._api_url}/{operation}", json=dict(body), headers=self._auth.headers()
                )
            except httpx.TransportError as exc:
                self._on_error(
                    "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
                )
                failures += 1
                sent = not isinstance(exc, httpx.ConnectError)
                self._retry_or_raise(
                    operation, failures, transport_problem(exc), resend or not sent
                )
                continue
            if response.status_code == 429:
                self._on_error("throttled")
                throttled += 1
                self._throttled(operation, throttled, response)
                continue
            if response.status_code >= 500:
                self._on_error("server")
                failures += 1
                self._retry_or_raise(operation, failures, f"HTTP {response.status_code}", resend)
                continue
            try:
                return answer(operation, response, self._auth.api_key.reveal())
            except RhombusError as exc:
                self._on_error("auth" if isinstance(exc, RhombusAuthError) else "api")
                raise

    def _wait_for_rate_limit(self) -> None:
        delay = self._not_before - self._monotonic()
        if delay > 0:
            self._sleep(delay)

    def _retry_or_raise(
        self, operation: str, failures: int, problem: str, resend: bool = True
    ) -> None:
        if not resend:
            raise RhombusUnavailable(
                f"Rhombus {operation} failed ({problem}) and was not sent again: it may have been"
                " done, so try again only if nothing came of it"
            )
        if failures >= MAX_ATTEMPTS:
            raise RhombusUnavailable(
                f"Rhombus {operation} failed after {failures} attempts: {problem}"
            )
        delay = self._jitter(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (failures - 1)))
        # DEBUG: a failure that outlasts the retries is logged once by the poll job, and every
        # attempt is counted in clipbot_rhombus_errors_total.
        log.debug("rhombus %s: %s; retrying in %.1fs", operation, problem, delay)
        self._sleep(delay)

    def _throttled(self, operation: str, throttled: int, response: httpx.Response) -> None:
        if throttled >= MAX_THROTTLED:
            raise RhombusUnavailable(
                f"Rhombus {operation} is throttling clipbot (HTTP 429 {throttled} times in a row)"
            )
        delay = retry_after(response) or self._jitter(
            BACKOFF_BASE_S, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**throttled)
        )
        # Every later call waits too: the rate limit is the organization's, not this request's.
        self._not_before = self._monotonic() + delay
        log.debug("rhombus %s: throttled (429); waiting %.1fs", operation, delay)

    # -- the saved-clip feed -----------------------------------------------------------------

    def page(self, page_timestamp_ms: int | None) -> Page:
        """One page of getSavedClipsV2, from `page_timestamp_ms` (None: the API's default)."""
        body: dict[str, Any] = {"maxPageSize": self._page_size}
        if page_timestamp_ms is not None:
            body["pageTimestampMs"] = page_timestamp_ms
        answer = self.call("event/getSavedClipsV2", body)
        return Page.from_api(answer, self._odd, self._now_ms() + FUTURE_SLACK_MS)

    @property
    def skipped_records(self) -> int:
        """Distinct odd saved-clip records (no usable uuid or createdAtMs) this client has set
        aside since it was created; each was logged once as a warning."""
        return self._odd.count

    def new_odd_records(self) -> list[str]:
        """Keys (uuid, else a digest of the JSON) of the odd records first set aside since the
        last call."""
        return self._odd.take_new()

    def clips_since(
        self, since_ms: int, read: Callable[[list[Clip]], object] = lambda clips: None
    ) -> list[Clip]:
        """Every clip saved at or after `since_ms`, oldest first, each once; `read(clips)` hears
        of them a page at a time as the feed is read (see Feed.clips_since)."""
        return self._feed.clips_since(since_ms, read)

    def recent(self, before_ms: int | None = None) -> Iterator[Clip]:
        """Saved clips newest first (at or before `before_ms`), each once, a page at a time."""
        return self._feed.recent(before_ms)

    # -- other endpoints ---------------------------------------------------------------------

    def clip(self, clip_uuid: str) -> Clip | None:
        """One clip's current state (getSavedClipDetails); None when Rhombus has no such clip
        or its record is odd (no usable uuid or createdAtMs)."""
        data = self.call("event/getSavedClipDetails", {"clipUuid": clip_uuid})
        saved = data.get("savedClip")
        return Clip.from_api(saved) if isinstance(saved, Mapping) else None

    def camera_names(self, ids: Iterable[str]) -> tuple[str, ...]:
        """Names for camera IDs; an unknown camera shows its ID. A miss refreshes the cache."""
        wanted = tuple(ids)
        return tuple(self._cameras.get(i) or i for i in wanted)

    def user_name(self, user_uuid: str | None) -> str | None:
        """A Rhombus user's name; None when unknown (getUsersInOrg, refreshed like cameras)."""
        return self._users.get(user_uuid) if user_uuid else None

    def _names(self, operation: str) -> dict[str, str]:
        return {record.uuid: record.name for record in self._records(operation)}

    def _records(self, operation: str) -> Iterator[Any]:
        data = self.call(operation, {})
        key, build = _LISTS[operation]
        items = data.get(key)
        for item in items if isinstance(items, list) else []:
            record = build(item) if isinstance(item, Mapping) else None
            if record is not None:
                yield record

    def share(self, clip: Clip, *, title: str, description: str, expires_secs: int) -> SharedLink:
        """A shared-clip link that works without a Rhombus login, expiring after `expires_secs`."""
        data = self.call(
            "event/createSharedClipGroupV3",
            {
                "title": title,
                "description": description,
                "expirationTimeSecs": expires_secs,
                "uuids": [{"eventUuid": clip.uuid}],
            },
            resend=False,  # each call makes a login-free link: never two for one press
        )
        url = web_link(data.get("shareUrl"))  # it goes into a thread line's text as it is
        if url is None:
            raise RhombusError("Rhombus createSharedClipGroupV3 returned no usable shareUrl")
        uuid = data.get("uuid")
        return SharedLink(
            url=url,
            uuid=uuid if isinstance(uuid, str) else None,
            expires_at_ms=self._now_ms() + expires_secs * 1000,
        )

    def media(self, url: str) -> AbstractContextManager[httpx.Response]:
        """A streamed GET of media at `url` with the API's auth headers (read it in chunks)."""
        return self._http.stream("GET", url, headers=self._auth.headers())

    def thumbnail(self, clip: Clip) -> bytes | None:
        """The clip's JPEG thumbnail, or None when the media server has none (never raises)."""
        url = thumbnail_url(self._media_url, clip)
        if url is None:
            return None
        try:
            response = self._http.get(url, headers=self._auth.headers())
        except httpx.TransportError as exc:
            log.warning("thumbnail for clip %s: %s", clip.uuid, transport_problem(exc))
            return None
        if response.status_code != 200 or not response.content:
            log.warning("thumbnail for clip %s: HTTP %s", clip.uuid, response.status_code)
            return None
        return response.content


_LISTS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "camera/getMinimalCameraStateList": ("cameraStates", Camera.from_api),
    "user/getUsersInOrg": ("users", User.from_api),
}
