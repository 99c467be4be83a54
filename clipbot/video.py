"""The Video button: a clip's MP4 streamed from the media server into the card's thread, once.

The first press downloads the MP4 to a temporary file in chunks (never the whole clip in
memory) and uploads it into the card's thread; the upload is stored, so every later press, on
this card or on another channel's card of the same clip, links that file instead.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import audit, blocks, replying
from clipbot.access import Access
from clipbot.media import video_url
from clipbot.notify import SlackPoster, UploadFailed
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.slack_errors import slack_error
from clipbot.state import AuditKind, Card, VideoFile
from clipbot.store import Store

log = logging.getLogger(__name__)

MB = 1024 * 1024
WORKERS = 3  # downloads at once in one process
CHUNK = 256 * 1024
# A fetch claimed longer ago than this was left by a process that died; it may be taken over.
STALE_MS = 15 * 60_000

PRIVATE = (
    "This clip is private or role-restricted in Rhombus, and this channel's subscription does "
    "not include those (`private:yes` set by a clipbot admin), so clipbot will not upload its "
    "video here."
)
BUSY_CLIP = "This clip's video is being fetched right now; it will appear in the thread shortly."
BUSY = "clipbot is already fetching {n} videos; press Video again in a minute."
SLACK_REFUSALS = {
    "file_uploads_disabled": "this workspace has file uploads turned off",
    "file_uploads_except_images_disabled": "this workspace allows only images to be uploaded",
    "file_upload_size_restricted": "this workspace does not allow files this large",
}


class VideoTooLarge(Exception):
    """The clip is over the limit: `size_bytes` is its size, or how far the download got."""

    def __init__(self, size_bytes: int, *, exact: bool) -> None:
        super().__init__(f"{size_bytes} bytes")
        self.size_bytes = size_bytes
        self.exact = exact


class VideoDesk:
    """Answers Video presses; at most `workers` downloads at once, one per clip."""

    def __init__(
        self,
        store: Store,
        rhombus: RhombusClient,
        poster: SlackPoster,
        *,
        media_url: str,
        console_url: str,
        max_bytes: int,
        now_ms: Callable[[], int],
        access: Access | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.store = store
        self.rhombus = rhombus
        self.poster = poster
        self.media_url = media_url
        self.console_url = console_url
        self.max_bytes = max_bytes
        self.now_ms = now_ms
        self.access = access or Access()  # whose private:yes counts (CLIPBOT_ADMINS)
        self.workers = workers
        self.stopping = threading.Event()  # set on shutdown: downloads stop at the next chunk
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def press(self, card: Card, user: str, tell: Callable[[str], None]) -> None:
        """Puts the clip's video in the card's thread (or links the one already uploaded).

        `tell` sends the presser a private note; too large and not ready are said in the thread.
        Blocks while downloading and uploading: call it after acknowledging the press.
        """
        if card.clip.is_private and not self._private_ok(card.channel_id):
            tell(PRIVATE)
            return
        video = self.store.video(card.clip.uuid)
        if video and video.permalink:
            self._link(card, user, video)
            return
        if busy := self._claim(card.clip.uuid):
            tell(busy)
            return
        try:
            # Another replica may have finished the upload since the look above.
            video = self.store.video(card.clip.uuid)
            if video and video.permalink:
                self._link(card, user, video)
            else:
                self._fetch(card, user, tell)
        finally:
            self.store.release_video_fetch(card.clip.uuid)
            with self._lock:
                self._busy.discard(card.clip.uuid)

    def _private_ok(self, channel: str) -> bool:
        sub = self.store.subscription(channel)
        return sub is not None and self.access.effective(sub).include_private

    def _claim(self, clip_uuid: str) -> str | None:
        """Marks the clip as downloading, here and in the store (so no other replica fetches
        it too); why not, when it already is or every slot here is taken."""
        with self._lock:
            if clip_uuid in self._busy:
                return BUSY_CLIP
            if len(self._busy) >= self.workers:
                return BUSY.format(n=len(self._busy))
            now = self.now_ms()
            if not self.store.claim_video_fetch(clip_uuid, now, stale_before_ms=now - STALE_MS):
                return BUSY_CLIP
            self._busy.add(clip_uuid)
        return None

    def _fetch(self, card: Card, user: str, tell: Callable[[str], None]) -> None:
        clip = self._fresh(card.clip)
        url = video_url(self.media_url, clip)
        if clip.status != "COMPLETE" or url is None:
            self._reply(card, self._not_ready(clip))
            return
        if clip.byte_count is not None and clip.byte_count > self.max_bytes:
            self._reply(card, self._too_large(clip, VideoTooLarge(clip.byte_count, exact=True)))
            return
        tell("Fetching the video; it will appear in this thread shortly.")
        with tempfile.TemporaryDirectory(prefix="clipbot-video-") as folder:
            path = Path(folder) / f"{clip.uuid}.mp4"
            try:
                size = self.download(url, path)
            except VideoTooLarge as exc:
                self._reply(card, self._too_large(clip, exc))
                return
            except RhombusError as exc:
                tell(f":warning: Could not get the video from Rhombus: {exc}.")
                return
            self._upload(card, clip, user, path, size, tell)

    def download(self, url: str, path: Path) -> int:
        """Streams the MP4 at `url` into `path`; its size in bytes.

        Raises VideoTooLarge past `max_bytes` (declared or counted), RhombusError when the media
        server refuses or cannot be reached.
        """
        try:
            with self.rhombus.media(url) as response, path.open("wb") as out:
                _check_media(response, self.max_bytes)
                size = 0
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise VideoTooLarge(size, exact=False)
                    if self.stopping.is_set():
                        raise RhombusError("clipbot is stopping")
                    out.write(chunk)
        except httpx.TransportError as exc:
            raise RhombusError(f"the media server did not answer ({type(exc).__name__})") from None
        return size

    def _upload(
        self, card: Card, clip: Clip, user: str, path: Path, size: int, tell: Callable[[str], None]
    ) -> None:
        assert card.ts is not None
        try:
            uploaded = self.poster.upload_file(
                path,
                filename=f"{clip.uuid}.mp4",
                title=blocks.title_of(clip),
                channel=card.channel_id,
                thread_ts=card.ts,
                comment=f"<@{user}> asked for the video ({megabytes(size)}).",
            )
        except SlackApiError as exc:
            code = slack_error(exc)
            why = SLACK_REFUSALS.get(code, "Slack refused it")
            tell(f":warning: Could not upload the video: {why} (`{code}`). {self._console(clip)}")
            return
        except (SlackClientError, UploadFailed, OSError) as exc:
            tell(f":warning: Could not upload the video to Slack ({slack_error(exc)}); try again.")
            return
        self.store.record_video(
            VideoFile(
                clip_uuid=clip.uuid,
                file_id=uploaded.file_id,
                permalink=uploaded.permalink,
                size_bytes=size,
                channel_id=card.channel_id,
                thread_ts=card.ts,
                uploaded_by=user,
                uploaded_at_ms=self.now_ms(),
            )
        )
        self._audit(card, user, f"{blocks.title_of(clip)} ({megabytes(size)})")
        log.info("uploaded the video of clip %s to %s (%d bytes)", clip.uuid, card.channel_id, size)

    def _audit(self, card: Card, user: str, details: str) -> None:
        audit.record(
            self.store,
            AuditKind.VIDEO,
            user,
            card.channel_id,
            self.now_ms(),
            details=details,
            clip_uuid=card.clip.uuid,
        )

    def _link(self, card: Card, user: str, video: VideoFile) -> None:
        """Links the upload already made; recorded too, as it puts the video in this channel."""
        self._audit(card, user, f"{blocks.title_of(card.clip)} (the earlier upload, linked)")
        title = blocks.escape(blocks.title_of(card.clip))
        self._reply(
            card,
            f"<@{user}> asked for the video ({megabytes(video.size_bytes)}): "
            f"<{video.permalink}|{title}>",
        )

    def _fresh(self, clip: Clip) -> Clip:
        """The clip as Rhombus has it now (status and size may have changed since the card)."""
        try:
            return self.rhombus.clip(clip.uuid) or clip
        except RhombusError as exc:
            log.warning("could not re-check clip %s before its video: %s", clip.uuid, exc)
            return clip

    def _not_ready(self, clip: Clip) -> str:
        if clip.status in ("FAILED", "DELETED", "OFFLINE"):
            state = f"is {clip.status.lower()} in Rhombus, so there is no video to upload"
        elif clip.status == "COMPLETE":
            state = "has no video location in Rhombus"
        else:
            state = f"is not rendered yet ({clip.status.lower()}); press Video again when it is"
        return f"This clip {state}. {self._console(clip)}"

    def _too_large(self, clip: Clip, exc: VideoTooLarge) -> str:
        size = megabytes(exc.size_bytes) if exc.exact else f"over {megabytes(self.max_bytes)}"
        return (
            f"This clip's video is too large to upload ({size}; clipbot uploads up to "
            f"{megabytes(self.max_bytes)}, `CLIPBOT_VIDEO_MAX_MB`). {self._console(clip)}"
        )

    def _console(self, clip: Clip) -> str:
        return f"<{blocks.console_link(self.console_url, clip)}|Watch it in the Rhombus console>."

    def _reply(self, card: Card, text: str) -> None:
        if card.ts is None:
            return
        # Written down first and settled if its answer is lost (see clipbot.replying).
        replying.reply(
            self.store,
            self.poster,
            channel=card.channel_id,
            thread_ts=card.ts,
            key=f"video:{card.channel_id}:{card.clip.uuid}:{secrets.token_hex(8)}",
            text=text,
            at_ms=self.now_ms(),
        )


def megabytes(size_bytes: int) -> str:
    """`12.3 MB` (MB of 1024 x 1024 bytes, as CLIPBOT_VIDEO_MAX_MB counts them)."""
    value = size_bytes / MB
    return f"{value:.1f} MB" if value < 10 else f"{value:.0f} MB"


def _check_media(response: httpx.Response, max_bytes: int) -> None:
    """Raises for a refusal, or for a declared length over the limit (before any byte is read)."""
    status = response.status_code
    if status == 404:
        raise RhombusError("the media server has no video for this clip (HTTP 404)")
    if status in (401, 403):
        raise RhombusError(f"the media server refused the API key (HTTP {status})")
    if status != 200:
        raise RhombusError(f"the media server answered HTTP {status}")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise VideoTooLarge(int(declared), exact=True)
