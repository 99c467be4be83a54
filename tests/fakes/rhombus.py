"""A fake Rhombus API on loopback: the saved-clip feed in either page order, and its neighbours."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from tests.fakes.server import LoopbackServer, Reply
from tests.feed_model import Paging, feed_order, saved_clips_page, served

API_KEY = "rk-test-0123456789abcdef"  # the only key the fake accepts
THUMBNAIL = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"


@dataclass(frozen=True)
class Video:
    """An MP4 the fake media server makes up as it sends it: `size` bytes after `latency`
    seconds, with a Content-Length unless `declare_length` is False (then chunked)."""

    size: int
    latency: float = 0.0
    declare_length: bool = True


VIDEO_PATTERN = bytes(range(256)) * 1024  # 256 KiB, repeated to any size


def video_chunks(size: int) -> Iterator[bytes]:
    """The bytes of a fake video of `size` bytes, a chunk at a time (nothing big is held)."""
    while size > 0:
        chunk = VIDEO_PATTERN[: min(size, len(VIDEO_PATTERN))]
        size -= len(chunk)
        yield chunk


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival


def clip(
    uuid: str,
    created: int,
    *,
    title: str | None = None,
    status: str = "COMPLETE",
    cameras: tuple[str, ...] = ("CAM0000000000000000001",),
    duration: int = 30,
    visibility: str = "ORG_WIDE",
    **extra: Any,
) -> dict[str, Any]:
    """A saved-clip record as getSavedClipsV2 returns it."""
    record: dict[str, Any] = {
        "uuid": uuid,
        "title": f"Clip {uuid}" if title is None else title,
        "description": "",
        "createdAtMs": created,
        "timestampMs": created - 60_000,
        "durationSec": duration,
        "status": status,
        "deviceUuid": f"{cameras[0]}.v0",
        "deviceUuids": [f"{c}.v0" for c in cameras],
        "devicePresentationOrder": [f"{c}.v0" for c in cameras],
        "userUuid": "USER000000000000000001",
        "accessSettings": {"visibility": visibility, "allowedUsers": [], "allowedRoles": []},
        "thumbnailLocation": {"region": "us-west-2"},
        "clipLocation": {"region": "us-west-2"},
    }
    record.update(extra)
    return record


class FakeRhombus:
    """Holds clips, cameras and users; answers like Rhombus, with injectable failures.

    The saved-clip feed pages as `paging` says (order, inclusive or exclusive bound,
    lastEvaluatedTimestampMs style, page cap): see `tests.feed_model`.
    """

    def __init__(self, order: str = "desc", paging: Paging | None = None) -> None:
        self.paging = paging or Paging(order="asc" if order == "asc" else "desc")
        self.clips: list[dict[str, Any]] = []
        self.cameras = [
            {"uuid": "CAM0000000000000000001", "name": "Front Door"},
            {"uuid": "CAM0000000000000000002", "name": "Loading Dock"},
        ]
        self.users = [{"uuid": "USER000000000000000001", "name": "Dana Guard"}]
        self.thumbnails: dict[str, bytes] = {}
        self.videos: dict[str, Video] = {}
        self.shares: list[dict[str, Any]] = []
        self.requests: list[Request] = []
        self.forbidden_keys: set[str] = set()
        self.silent = False  # True: every request is read and never answered (until stop())
        self.latency = 0.0  # benchmarks: every answer comes this many seconds late
        self._failures: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._changes = 0  # add() and update() calls: the feed's order is kept until the next
        self._ordered: tuple[tuple[int, int, int, Paging], list[dict[str, Any]]] | None = None
        self._server = LoopbackServer(self._route_late)

    # -- set-up ---------------------------------------------------------------------------------

    @property
    def order(self) -> str:
        return self.paging.order

    @order.setter
    def order(self, order: str) -> None:
        self.paging = replace(self.paging, order="asc" if order == "asc" else "desc")

    @property
    def api_url(self) -> str:
        return self._server.base_url + "/api"

    @property
    def media_url(self) -> str:
        return self._server.base_url

    def add(self, *records: dict[str, Any]) -> None:
        with self._lock:
            self.clips.extend(records)
            self._changes += 1

    def update(self, uuid: str, **fields: Any) -> None:
        with self._lock:
            next(c for c in self.clips if c.get("uuid") == uuid).update(fields)
            self._changes += 1

    def fail(self, operation: str, *replies: Reply) -> None:
        """Answer the next calls of `operation` (like "getSavedClipsV2") with `replies`."""
        with self._lock:
            self._failures.setdefault(operation, deque()).extend(replies)

    def calls(self, operation: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/" + operation)]

    def start(self) -> FakeRhombus:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    # -- serving --------------------------------------------------------------------------------

    def _route_late(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = self._route(method, path, headers, body)
        reply.delay = max(reply.delay, self.latency)
        return reply

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        with self._lock:
            self.requests.append(Request(method, path, headers, parsed, time.monotonic()))
            operation = path.rsplit("/", 1)[-1]
            if self.silent:
                return Reply(delay=3600)
            queued = self._failures.get(operation)
            if queued:
                return queued.popleft()
            key = headers.get("x-auth-apikey")
            if key != API_KEY:
                return Reply.json({"error": "Unauthorized"}, 401)
            if key in self.forbidden_keys:
                return Reply.json({"error": "Forbidden"}, 403)
            if path.startswith("/media/"):
                return self._media(path)
            if not isinstance(parsed, dict):
                return Reply.json({"msg": "JSON doesn't match expected object structure"}, 400)
            handler = getattr(self, "_" + operation, None)
            if handler is None:
                return Reply.json({"error": True, "errorMsg": f"unknown path {path}"}, 404)
            return Reply.json(handler(parsed))

    def _getSavedClipsV2(self, body: dict[str, Any]) -> dict[str, Any]:
        # The feed in page order, sorted again only once it changed (a benchmark's backlog of
        # thousands is paged through a hundred times).
        key = (id(self.clips), len(self.clips), self._changes, self.paging)
        if self._ordered is None or self._ordered[0] != key:
            self._ordered = (key, feed_order(self.clips, self.paging))
        return saved_clips_page(self._ordered[1], body, self.paging, ordered=True)

    def _getSavedClipDetails(self, body: dict[str, Any]) -> dict[str, Any]:
        found = [c for c in self.clips if c.get("uuid") == body.get("clipUuid")]
        if not found:
            return {"error": True, "errorMsg": "Clip not found"}
        return {"savedClip": served(found[0])}

    def _getMinimalCameraStateList(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"cameraStates": self.cameras}

    def _getUsersInOrg(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"users": self.users}

    def _createSharedClipGroupV3(self, body: dict[str, Any]) -> dict[str, Any]:
        self.shares.append(body)
        n = len(self.shares)
        return {"shareUrl": f"https://share.example.test/clips/share{n}", "uuid": f"SHARE{n}"}

    def _media(self, path: str) -> Reply:
        if path.endswith(".mp4"):
            return self._video(path.rsplit("/", 1)[-1].removesuffix(".mp4"))
        uuid = path.rsplit("/", 1)[-1].removesuffix(".jpeg")
        data = self.thumbnails.get(uuid)
        if data is None:
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        return Reply(200, data, {"Content-Type": "image/jpeg"})

    def _video(self, uuid: str) -> Reply:
        video = self.videos.get(uuid)
        if video is None:
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        headers = {"Content-Type": "video/mp4"}
        if video.declare_length:
            headers["Content-Length"] = str(video.size)
        return Reply(200, headers=headers, delay=video.latency, chunks=video_chunks(video.size))
