"""A fake Slack Web API on loopback: messages, threads, uploads, views and response URLs."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import blockkit
from tests.fakes.server import LoopbackServer, Reply, arguments, json_field, plain
from tests.fakes.slack_users import Directory

BOT_TOKEN = "xoxb-test-bot-token-0000"
APP_TOKEN = "xapp-test-app-token-0000"
SIGNING_SECRET = "test-signing-secret-0000"
RESPONSE_URL_USES = 5  # a response_url answers this many posts...
RESPONSE_URL_SECONDS = 30 * 60  # ...within this long of the command or press that brought it


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    edits: int = 0
    files: list[str] = field(default_factory=list)  # IDs of files shared with the message
    at: float = field(default_factory=time.monotonic)  # when the fake took it


@dataclass
class SlackFile:
    """An upload through files.getUploadURLExternal → upload URL → files.completeUploadExternal."""

    id: str
    filename: str
    length: int  # as declared to getUploadURLExternal
    received: int = 0  # bytes that arrived at the upload URL
    sha256: str = ""
    title: str | None = None
    channel: str | None = None  # where completeUploadExternal shared it
    thread_ts: str | None = None
    comment: str | None = None
    completed: bool = False

    @property
    def permalink(self) -> str:
        return f"https://test.slack.com/files/UBOT/{self.id}/{self.filename}"


@dataclass
class Channel:
    id: str
    is_private: bool = False
    is_member: bool = True
    error: str | None = None  # e.g. "channel_not_found": every post answers it
    is_archived: bool = False  # readable, but every post, edit or ephemeral answers is_archived


@dataclass
class FakeSlack:
    """Records every Web API call and keeps the messages the app posted."""

    calls: list[Call] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    ephemerals: list[Message] = field(default_factory=list)  # chat.postEphemeral, accepted
    responses: list[dict[str, Any]] = field(default_factory=list)  # posted to response_url
    refused: list[tuple[str, list[str]]] = field(default_factory=list)  # (error, why): limits
    uploads: dict[str, bytes] = field(default_factory=dict)  # bodies of small uploads
    files: dict[str, SlackFile] = field(default_factory=dict)
    upload_limit: int = 1024**3  # larger files: file_upload_size_restricted, like a workspace's
    uploads_disabled: bool = False  # every upload: file_uploads_disabled
    channels: dict[str, Channel] = field(default_factory=dict)
    socket_url: str | None = None  # what apps.connections.open hands out
    users: Directory = field(default_factory=Directory)  # users.info: members, guests, …
    refuse_images: int = (
        0  # this many messages with an image block get invalid_blocks (file not ready)
    )
    # Benchmarks (bench/): every Web API call answers after `latency` seconds; with `post_rate`,
    # each channel takes chat.postMessage at that many per second (bursts of `post_burst`), and
    # with `workspace_rate` the workspace takes that many posts per second (bursts of
    # `workspace_burst`), answering HTTP 429 `ratelimited` with Retry-After (seconds) beyond.
    latency: float = 0.0
    post_rate: float | None = None
    post_burst: float = 3.0
    workspace_rate: float | None = None
    workspace_burst: float = 100.0
    ratelimited: list[str] = field(default_factory=list)  # channels answered 429
    spans: list[tuple[str, float, float]] = field(default_factory=list)  # (method, came, answered)
    responded: list[tuple[str, float]] = field(default_factory=list)  # (response_url name, at)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[Reply]] = {}
        self._lost: dict[str, int] = {}
        self._ts = itertools.count(1)
        self._names = itertools.count(1)
        self._issued: dict[str, list[float]] = {}  # response_url name -> [issued at, uses]
        self._response_failures: deque[Reply] = deque()
        self._skew = 0.0
        self._buckets: dict[str, TokenBucket] = {}
        self._server = LoopbackServer(self._route_late, self._receive_upload, "/upload/")

    @property
    def api_url(self) -> str:
        return self._server.base_url + "/api/"

    def response_url(self, name: str | None = None) -> str:
        """A fresh response_url, as Slack hands one out with each command and button press:
        it takes at most 5 posts within 30 minutes, then answers 404 `expired_url`."""
        name = name or f"r{next(self._names)}"
        with self._lock:
            self._issued.setdefault(name, [self._now(), 0])
        return f"{self._server.base_url}/response/{name}"

    def advance(self, seconds: float) -> None:
        """Moves the fake's clock (response_url expiry) forward."""
        self._skew += seconds

    def fail_response(self, *replies: Reply) -> None:
        """Answer the next posts to any response_url with `replies` (like Reply(500))."""
        with self._lock:
            self._response_failures.extend(replies)

    def _now(self) -> float:
        return time.monotonic() + self._skew

    def start(self) -> FakeSlack:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def fail(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of `method` (like "chat.postMessage") with `replies`."""
        with self._lock:
            self._failures.setdefault(method, deque()).extend(replies)

    def lose_answers(self, method: str, count: int = 1) -> None:
        """The next `count` calls of `method` are carried out, then the connection is closed
        before the answer goes back: the caller cannot tell whether Slack acted."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + count

    def calm(self) -> None:
        """Drops every queued failure and lost-answer switch: Slack behaves from now on."""
        with self._lock:
            self._failures.clear()
            self._lost.clear()

    def channel(self, channel_id: str, **fields: Any) -> Channel:
        self.channels[channel_id] = Channel(channel_id, **fields)
        return self.channels[channel_id]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None, *, threads: bool = False) -> list[Message]:
        """Top-level messages (or, with threads=True, thread replies) in posting order."""
        return [
            m
            for m in self.messages
            if (channel is None or m.channel == channel) and (m.thread_ts is not None) == threads
        ]

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts]

    # -- serving --------------------------------------------------------------------------------

    def _route_late(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        came = time.monotonic()
        reply = self._route(verb, path, headers, body)
        reply.delay = max(reply.delay, self.latency)
        method = path.removeprefix("/api/").split("?", 1)[0]
        with self._lock:
            self.spans.append((method, came, time.monotonic() + reply.delay))
        return reply

    def most_at_once(self, method: str) -> int:
        """The most calls of `method` that were in flight at one moment (arrived, not answered)."""
        edges = sorted(
            (at, step)
            for name, came, answered in self.spans
            if name == method
            for at, step in ((came, 1), (answered, -1))
        )  # at a tie an answer (-1) sorts before an arrival
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most

    def _route(self, verb: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path.startswith("/response/"):
            with self._lock:
                return self._respond(path.removeprefix("/response/"), json.loads(body))
        method = path.removeprefix("/api/").split("?", 1)[0]
        args = arguments(headers, body)
        with self._lock:
            self.calls.append(Call(method, args))
            queued = self._failures.get(method)
            if queued:
                return queued.popleft()
            if method == "chat.postMessage" and (wait := self._rate_wait(args)) is not None:
                return wait
            if headers.get("authorization") not in (f"Bearer {BOT_TOKEN}", f"Bearer {APP_TOKEN}"):
                return Reply.json({"ok": False, "error": "invalid_auth"})
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                return Reply.json({"ok": False, "error": "unknown_method"})
            answer = handler(args)
            if self._lost.get(method):
                self._lost[method] -= 1
                return Reply(drop=True)
            return Reply.json(answer)

    def _respond(self, name: str, message: dict[str, Any]) -> Reply:
        """A post to a response_url: spent or expired URLs 404, bad blocks 400, like Slack."""
        if self._response_failures:
            return self._response_failures.popleft()
        issued = self._issued.get(name)
        if issued is None or issued[1] >= RESPONSE_URL_USES:
            return plain(404, "expired_url")
        if self._now() - issued[0] > RESPONSE_URL_SECONDS:
            return plain(404, "expired_url")
        issued[1] += 1
        if error := self._refusal(message.get("text"), message.get("blocks")):
            return plain(400, error)
        self.responses.append(message)
        self.responded.append((name, time.monotonic()))
        return plain(200, "ok")

    def _refusal(self, text: Any, blocks: Any, metadata: Any = None) -> str | None:
        """The error code Slack's limits give this message, recorded in `refused`; or None."""
        found = blockkit.message_error(text, json_field(blocks), json_field(metadata))
        if found is None:
            return None
        self.refused.append(found)
        return found[0]

    def _message_error(self, args: dict[str, Any]) -> dict[str, Any] | None:
        error = self._refusal(args.get("text"), args.get("blocks"), args.get("metadata"))
        if error is None:
            return None
        return {"ok": False, "error": error, "response_metadata": {"messages": self.refused[-1][1]}}

    def _rate_wait(self, args: dict[str, Any]) -> Reply | None:
        """HTTP 429 when the channel's (or the workspace's) post rate is spent, like Slack."""
        channel = str(args.get("channel", ""))
        limits = [(channel, self.post_rate, self.post_burst)]
        limits.append(("*workspace*", self.workspace_rate, self.workspace_burst))
        buckets = [
            self._buckets.setdefault(key, TokenBucket(rate, burst))
            for key, rate, burst in limits
            if rate is not None
        ]
        now = time.monotonic()
        wait = max((b.wait(now) for b in buckets), default=0.0)
        if wait > 0:
            self.ratelimited.append(channel)
            answer = Reply.json({"ok": False, "error": "ratelimited"}, 429)
            answer.headers["Retry-After"] = str(math.ceil(wait))  # whole seconds, as Slack
            return answer
        for bucket in buckets:
            bucket.take(now)
        return None

    def _receive_upload(self, path: str, headers: dict[str, str], body: Iterator[bytes]) -> Reply:
        """The upload URL: takes the bytes as they arrive, keeping only small files whole."""
        with self._lock:
            file = self.files.get(path.rsplit("/", 1)[-1])
        if file is None:
            return Reply(404, b"unknown upload", {"Content-Type": "text/plain"})
        digest, size, kept = hashlib.sha256(), 0, bytearray()
        for chunk in body:
            digest.update(chunk)
            size += len(chunk)
            if size <= 1 << 20:
                kept += chunk
        if size > file.length:
            return Reply(
                413, b"more bytes than the declared length", {"Content-Type": "text/plain"}
            )
        with self._lock:
            file.received, file.sha256 = size, digest.hexdigest()
            if size <= 1 << 20:
                self.uploads[file.id] = bytes(kept)
        return Reply(200, f"OK - {size}".encode(), {"Content-Type": "text/plain"})

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": "Test Team",
            "user": "clipbot",
            "team_id": "T0001",
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

    def _channel_error(self, channel: str) -> str | None:
        known = self.channels.get(channel)
        return known.error if known else None

    def _posting_error(self, channel: str) -> str | None:
        """Why a post, edit or ephemeral in the channel is refused: an archived channel is
        still read (history, info) but takes nothing new, answering `is_archived`."""
        known = self.channels.get(channel)
        if known and known.is_archived and not known.error:
            return "is_archived"
        return self._channel_error(channel)

    def _image_refused(self, args: dict[str, Any]) -> bool:
        images = [b for b in json_field(args.get("blocks")) or [] if b.get("type") == "image"]
        if images and self.refuse_images > 0:
            self.refuse_images -= 1
            return True
        return False

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        if error := self._posting_error(channel):
            return {"ok": False, "error": error}
        if refused := self._message_error(args):
            return refused
        if self._image_refused(args):
            return {"ok": False, "error": "invalid_blocks"}
        ts = f"1700000000.{next(self._ts):06d}"
        message = Message(
            channel=channel,
            ts=ts,
            text=args.get("text", ""),
            blocks=json_field(args.get("blocks")),
            thread_ts=args.get("thread_ts"),
            metadata=json_field(args.get("metadata")),
        )
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        found = [
            m for m in self.messages if m.channel == args.get("channel") and m.ts == args.get("ts")
        ]
        if error := self._posting_error(str(args.get("channel", ""))):
            return {"ok": False, "error": error}
        if not found:
            return {"ok": False, "error": "message_not_found"}
        if refused := self._message_error(args):
            return refused
        if self._image_refused(args):
            return {"ok": False, "error": "invalid_blocks"}
        message = found[0]
        message.text = args.get("text", message.text)
        message.blocks = json_field(args.get("blocks"))
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if error := self._posting_error(channel):
            return {"ok": False, "error": error}
        if refused := self._message_error(args):
            return refused
        ts = f"1700000001.{next(self._ts):06d}"
        self.ephemerals.append(
            Message(channel, ts, args.get("text", ""), json_field(args.get("blocks")))
        )
        return {"ok": True, "message_ts": ts}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("message_ts", "")).replace(".", "")
        return {"ok": True, "permalink": f"https://test.slack.com/archives/{args['channel']}/p{ts}"}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        if error := self._channel_error(channel):
            return {"ok": False, "error": error}
        oldest = float(args.get("oldest") or 0)
        found = [  # newest first, like Slack; `oldest` is exclusive
            _shown(m, args)
            for m in reversed(self.messages)
            if m.channel == channel and m.thread_ts is None and float(m.ts) > oldest
        ]
        return {"ok": True, "messages": found, "has_more": False}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        if error := self._channel_error(channel):
            return {"ok": False, "error": error}
        parent = [m for m in self.messages if m.channel == channel and m.ts == ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        thread = parent + self.replies(channel, ts)  # the parent first, then oldest first
        return {"ok": True, "messages": [_shown(m, args) for m in thread], "has_more": False}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        known = self.channels.get(channel) or Channel(channel)
        if known.error:
            return {"ok": False, "error": known.error}
        info = {
            "id": channel,
            "is_private": known.is_private,
            "is_member": known.is_member,
            "is_archived": known.is_archived,
        }
        return {"ok": True, "channel": info}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        length = int(args.get("length") or 0)
        if not args.get("filename") or length <= 0:
            return {"ok": False, "error": "missing_argument"}
        if self.uploads_disabled:
            return {"ok": False, "error": "file_uploads_disabled"}
        if length > self.upload_limit:
            return {"ok": False, "error": "file_upload_size_restricted"}
        file_id = f"F{next(self._ts):06d}"
        self.files[file_id] = SlackFile(file_id, str(args["filename"]), length)
        return {
            "ok": True,
            "upload_url": f"{self._server.base_url}/upload/{file_id}",
            "file_id": file_id,
        }

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = json_field(args.get("files")) or []
        files = [self.files.get(str(f.get("id"))) for f in listed]
        if not files or any(f is None or f.received == 0 or f.completed for f in files):
            return {"ok": False, "error": "file_not_found"}
        channel = args.get("channel_id")
        if channel and (error := self._posting_error(channel)):
            return {"ok": False, "error": error}
        thread_ts = args.get("thread_ts")
        if thread_ts and not any(m.channel == channel and m.ts == thread_ts for m in self.messages):
            return {"ok": False, "error": "invalid_thread_ts"}
        for file, asked in zip(files, listed, strict=True):
            assert file is not None
            file.title, file.completed = asked.get("title"), True
            file.channel, file.thread_ts = channel, thread_ts
            file.comment = args.get("initial_comment")
        if channel:
            self.messages.append(
                Message(
                    channel=channel,
                    ts=f"1700000000.{next(self._ts):06d}",
                    text=args.get("initial_comment") or "",
                    blocks=None,
                    thread_ts=thread_ts,
                    files=[f.id for f in files if f],
                )
            )
        # Like Slack's documented answer: ids and titles only (the permalink needs files.info).
        return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in files if f]}

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(str(args.get("file")))
        if file is None or not file.completed:
            return {"ok": False, "error": "file_not_found"}
        return {
            "ok": True,
            "file": {"id": file.id, "title": file.title, "permalink": file.permalink},
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view(args)

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view(args)

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = json_field(args.get("view"))
        found = blockkit.view_error(view)
        if found is not None:
            self.refused.append(found)
            return {"ok": False, "error": found[0], "response_metadata": {"messages": found[1]}}
        return {"ok": True, "view": {"id": f"V{next(self._ts):06d}", **view}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.users.info(args)

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_url or "ws://127.0.0.1:9/link"}


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; a post takes one."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def _fill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        self._fill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._fill(now)
        self.tokens -= 1


def _shown(message: Message, args: dict[str, Any]) -> dict[str, Any]:
    """A message as history answers show it: metadata only when asked for, like Slack."""
    shown: dict[str, Any] = {"ts": message.ts, "text": message.text}
    if message.thread_ts:
        shown["thread_ts"] = message.thread_ts
    if message.metadata and str(args.get("include_all_metadata")).lower() in ("1", "true"):
        shown["metadata"] = message.metadata
    return shown
