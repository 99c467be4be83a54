"""Sending clip cards to Slack: posting paced per channel, edits, thread replies, thumbnails."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot.blocks import CLIP_EVENT, DIGEST_EVENT, REPLY_EVENT, Message
from clipbot.slack_errors import SlackFailure, classify, slack_error

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
HISTORY_PAGES = 5  # how far back a restart looks for a post it may have made (5 x 200 messages)


@dataclass(frozen=True, slots=True)
class Sent:
    ts: str
    image_refused: bool


@dataclass(frozen=True, slots=True)
class Uploaded:
    """A file Slack now holds: its ID and permalink (None when Slack would not say)."""

    file_id: str
    permalink: str | None


class UploadFailed(Exception):
    """Slack's upload URL did not take the file (its HTTP status, or the connection failure)."""


class ChannelBroken(Exception):
    """The channel refuses the bot's messages (deleted, archived, bot not invited)."""

    def __init__(self, channel_id: str, reason: str) -> None:
        super().__init__(f"channel {channel_id}: {reason}")
        self.channel_id = channel_id
        self.reason = reason


class SlackPoster:
    """Posts and edits the bot's messages; each channel's posts at most one per `pace` seconds."""

    def __init__(
        self,
        client: WebClient,
        *,
        pace_seconds: float = 1.0,
        sleep: Callable[[float], object] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._pace = pace_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_post: dict[str, float] = {}
        self._lock = threading.Lock()
        # One lock per card being edited; gone once nobody holds or waits for it.
        self._card_locks: weakref.WeakValueDictionary[tuple[str, str], threading.Lock] = (
            weakref.WeakValueDictionary()
        )

    def post(self, channel: str, message: Message, metadata: dict[str, Any] | None = None) -> Sent:
        """Posts `message`. A card whose thumbnail Slack refuses (a file still being processed)
        goes without it, and says so, so the image can be added later."""
        self._wait_turn(channel)
        try:
            return Sent(self._post(channel, message, metadata), image_refused=False)
        except SlackApiError as exc:
            if classify(exc, message) is not SlackFailure.IMAGE_REFUSED:
                raise
        log.warning("slack refused a thumbnail in %s; posting the card without it", channel)
        return Sent(self._post(channel, _without_images(message), metadata), image_refused=True)

    def _post(self, channel: str, message: Message, metadata: dict[str, Any] | None) -> str:
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata=metadata,
                thread_ts=message.get("thread_ts"),  # set: a line in a card's thread
            )
        except SlackApiError as exc:
            if classify(exc) is SlackFailure.BROKEN_CHANNEL:
                raise ChannelBroken(channel, slack_error(exc)) from None
            raise
        return str(response["ts"])

    def card_lock(self, clip_uuid: str, channel: str) -> threading.Lock:
        """The lock that serialises this process's edits of one card (see clipbot.redraw)."""
        with self._lock:
            lock = self._card_locks.get((clip_uuid, channel))
            if lock is None:
                lock = self._card_locks[(clip_uuid, channel)] = threading.Lock()
            return lock

    def update(self, channel: str, ts: str, message: Message) -> bool:
        """Edits a message the bot posted, in place; False when its image had to be left out."""
        try:
            self.client.chat_update(
                channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
            )
            return True
        except SlackApiError as exc:
            if classify(exc, message) is not SlackFailure.IMAGE_REFUSED:
                raise
        plain = _without_images(message)
        self.client.chat_update(channel=channel, ts=ts, text=plain["text"], blocks=plain["blocks"])
        return False

    def announce(self, channel: str, text: str) -> str:
        """Posts a plain line in the channel itself (a subscription or a mute said aloud); its
        ts. Raises ChannelBroken when the channel refuses the bot, SlackApiError otherwise."""
        self._wait_turn(channel)
        return self._post(channel, {"text": text, "blocks": None}, None)

    def reply(
        self, channel: str, thread_ts: str, text: str, metadata: dict[str, Any] | None = None
    ) -> str:
        """Posts one line in a card's thread (paced with the channel's posts); its ts."""
        self._wait_turn(channel)
        response = self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, metadata=metadata
        )
        return str(response["ts"])

    def ephemeral(self, channel: str, user: str, message: Message) -> None:
        """Shows `message` to `user` only, in `channel` (chat.postEphemeral)."""
        self.client.chat_postEphemeral(
            channel=channel, user=user, text=message["text"], blocks=message.get("blocks")
        )

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to one of the bot's messages; None (logged) when Slack will not give one."""
        with _logged("chat.getPermalink", channel):
            return str(self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        return None

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> bool:
        """Opens a modal for the person whose press brought `trigger_id`; False (logged) if not."""
        with _logged("views.open", "-"):
            self.client.views_open(trigger_id=trigger_id, view=view)
            return True
        return False

    def publish_home(self, user: str, view: dict[str, Any]) -> bool:
        """Shows `view` as the user's App Home tab; False (logged) when Slack refuses it."""
        with _logged("views.publish", user):
            self.client.views_publish(user_id=user, view=view)
            return True
        return False

    def user_info(self, user: str) -> dict[str, Any]:
        """Slack's record of a user (users.info). Raises what the call raises."""
        return dict(self.client.users_info(user=user).get("user") or {})

    def check_token(self) -> None:
        """Asks Slack whether the bot token works (auth.test). Raises what the call raises."""
        self.client.auth_test()

    def upload_image(self, data: bytes, filename: str, title: str) -> str | None:
        """Uploads an image for a `slack_file` block; its file ID, or None when Slack refuses."""
        try:
            response = self.client.files_upload_v2(content=data, filename=filename, title=title)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("thumbnail upload failed: %s", slack_error(exc))
            return None
        file = response.get("file") or {}
        return str(file["id"]) if file.get("id") else None

    def upload_file(
        self, path: Path, *, filename: str, title: str, channel: str, thread_ts: str, comment: str
    ) -> Uploaded:
        """Uploads the file at `path` into a thread, streamed from disk in chunks.

        Slack's external upload, the three steps `WebClient.files_upload_v2` takes
        (files.getUploadURLExternal with the length, a POST of the bytes to the URL it hands out,
        files.completeUploadExternal with channel_id and thread_ts); files_upload_v2 itself reads
        the whole file into memory first, which a video must not. Raises SlackApiError
        (`file_uploads_disabled`, `file_upload_size_restricted`…) or UploadFailed.
        """
        ticket = self.client.files_getUploadURLExternal(
            filename=filename, length=path.stat().st_size
        )
        file_id = str(ticket["file_id"])
        try:
            with path.open("rb") as file, httpx.Client(timeout=UPLOAD_TIMEOUT) as http:
                response = http.post(str(ticket["upload_url"]), content=file)
        except httpx.TransportError as exc:
            raise UploadFailed(type(exc).__name__) from None
        if response.status_code != 200:
            raise UploadFailed(f"HTTP {response.status_code}")
        done = self.client.files_completeUploadExternal(
            files=[{"id": file_id, "title": title}],
            channel_id=channel,
            thread_ts=thread_ts,
            initial_comment=comment,
        )
        shared = (done.get("files") or [{}])[0]
        return Uploaded(file_id, shared.get("permalink") or self._permalink(file_id))

    def _permalink(self, file_id: str) -> str | None:
        try:
            info = self.client.files_info(file=file_id)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("no permalink for file %s: %s", file_id, slack_error(exc))
            return None
        permalink = (info.get("file") or {}).get("permalink")
        return str(permalink) if permalink else None

    def find_posted(self, channel: str, after_ts: str | None) -> dict[str, str]:
        """Clip uuid (a card's) or digest key (state.digest_key) → ts of the bot's messages in
        `channel` newer than `after_ts`."""
        found: dict[str, str] = {}
        for message in self.history(channel, after_ts):
            found.update(_clips_in(message))
        return found

    def history(self, channel: str, after_ts: str | None) -> Iterator[dict[str, Any]]:
        """Top-level messages in `channel` newer than `after_ts`, newest first, with their
        metadata (`conversations.history`, at most HISTORY_PAGES pages)."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = self.client.conversations_history(
                channel=channel,
                oldest=after_ts or "0",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                break

    def find_replies(self, channel: str, thread_ts: str) -> dict[str, str]:
        """Reply key → ts of the bot's keyed lines in a thread (conversations.replies)."""
        found: dict[str, str] = {}
        for message in self.thread(channel, thread_ts):
            meta = message.get("metadata") or {}
            if meta.get("event_type") == REPLY_EVENT:
                found[str((meta.get("event_payload") or {}).get("key"))] = message["ts"]
        return found

    def find_in_thread(self, channel: str, thread_ts: str) -> dict[str, str]:
        """Clip uuid → ts of the grouped clips' lines in a card's thread."""
        found: dict[str, str] = {}
        for message in self.thread(channel, thread_ts):
            if message.get("ts") != thread_ts:  # the card itself heads its thread
                found.update(_clips_in(message))
        return found

    def thread(self, channel: str, thread_ts: str) -> Iterator[dict[str, Any]]:
        """The messages of a thread, its parent first, with their metadata
        (`conversations.replies`, at most HISTORY_PAGES pages)."""
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = self.client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200, cursor=cursor
            )
            yield from response.get("messages") or []
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                break

    def _wait_turn(self, channel: str) -> None:
        with self._lock:
            now = self._monotonic()
            turn = max(now, self._last_post.get(channel, 0.0) + self._pace)
            self._last_post[channel] = turn
        if turn > now:
            self._sleep(turn - now)


def _clips_in(message: dict[str, Any]) -> dict[str, str]:
    """What a message of the bot's stands for, by its metadata: a card's clip uuid, a digest's
    key (state.digest_key), or the clip uuids an older release listed in a digest."""
    meta = message.get("metadata") or {}
    payload = meta.get("event_payload") or {}
    if meta.get("event_type") == CLIP_EVENT:
        return {str(payload.get("clip_uuid")): message["ts"]}
    if meta.get("event_type") == DIGEST_EVENT:
        keys = [payload["digest"]] if payload.get("digest") else payload.get("clip_uuids") or []
        return {str(key): message["ts"] for key in keys}
    return {}


@contextlib.contextmanager
def _logged(method: str, where: str) -> Iterator[None]:
    """Logs a failed call once, with its error code and what kind of failure it is."""
    try:
        yield
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning(
            "slack %s for %s failed: %s (%s)", method, where, slack_error(exc), classify(exc).value
        )


def _without_images(message: Message) -> Message:
    return {**message, "blocks": [b for b in message["blocks"] if b.get("type") != "image"]}
