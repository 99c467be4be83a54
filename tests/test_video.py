"""The Video button through the real Bolt stack: the MP4 streamed from the fake media server
into the card's thread through the fake Slack's upload endpoints, shared once, and every refusal."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot import blocks
from clipbot.access import SharePolicy
from clipbot.media import video_url
from clipbot.records import Clip
from clipbot.state import AuditKind, Card, VideoFile
from clipbot.video import BUSY_CLIP, MB, VideoDesk
from tests.bolt import Bot, eventually
from tests.fakes.rhombus import FakeRhombus, Video, clip, video_chunks
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack, Message
from tests.world import CONSOLE, T0, World

LIMIT = 4 * MB
SIZE = 1_500_000
CONSOLE_LINK = f"<{CONSOLE}/devices/cameras/CAM0000000000000000001/?t={T0 + 1 - 60_000}|Watch it in the Rhombus console>."


def sha256_of_video(size: int) -> str:
    digest = hashlib.sha256()
    for chunk in video_chunks(size):
        digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db", video_max_bytes=LIMIT)
    w.subscribe("C1")
    w.subscribe("C2")
    rhombus.add(clip("A", T0 + 1, title="Gate left open", byteCount=SIZE))
    rhombus.videos["A"] = Video(SIZE)
    w.poller.poll_once()
    yield w
    w.close()


def desk(world: World, workers: int = 3, max_bytes: int = LIMIT) -> VideoDesk:
    return VideoDesk(
        world.store,
        world.client,
        world.poster,
        media_url=world.rhombus.media_url,
        console_url=CONSOLE,
        max_bytes=max_bytes,
        now_ms=lambda: world.now[0],
        access=world.access,
        workers=workers,
    )


@pytest.fixture
def bot(world: World) -> Bot:
    return Bot(world, videos=desk(world))


def card(world: World, channel: str = "C1") -> Message:
    """The card of clip A (the first posted in the channel)."""
    return world.slack.posts(channel)[0]


def press(bot: Bot, world: World, channel: str = "C1", user: str = "U2") -> None:
    bot.press("clip_video", "A", channel=channel, user=user, ts=card(world, channel).ts)


def thread(world: World, channel: str = "C1") -> list[Message]:
    return world.slack.replies(channel, card(world, channel).ts)


def notes(world: World) -> list[str]:
    return [r["text"] for r in world.slack.responses]


def media_requests(world: World) -> int:
    return len([r for r in world.rhombus.requests if r.path.endswith(".mp4")])


class TestButton:
    def test_offered_on_complete_clips_within_the_limit(self) -> None:
        """COMPLETE and not known to be over the limit: the button; otherwise, or at 0, none."""
        base = Clip("A", status="COMPLETE", byte_count=LIMIT)
        assert [
            blocks.offers_video(base, LIMIT),
            blocks.offers_video(Clip("A", status="COMPLETE"), LIMIT),  # size unknown: try
            blocks.offers_video(Clip("A", status="COMPLETE", byte_count=LIMIT + 1), LIMIT),
            blocks.offers_video(Clip("A", status="RENDERING", byte_count=10), LIMIT),
            blocks.offers_video(base, 0),
        ] == [True, True, False, False, False]

    def test_where_the_mp4_is(self) -> None:
        """clipLocationV2 when absolute, else the region form; nothing without either."""
        media = "https://media.example.test"
        assert [
            video_url(media, Clip("A", clip_location_v2="https://cdn.test/a.mp4")),
            video_url(media, Clip("A", clip_location_v2="opaque/a", clip_region="eu-1")),
            video_url(media, Clip("A")),
        ] == ["https://cdn.test/a.mp4", f"{media}/media/metadata/eu-1/A.mp4", None]

    def test_card_carries_it(self, world: World) -> None:
        """A posted card of a COMPLETE clip ends its buttons with Video, valued with the clip."""
        actions = next(b for b in card(world).blocks or [] if b["type"] == "actions")
        assert actions["elements"][-1] == {
            "type": "button",
            "text": {"type": "plain_text", "text": "Video"},
            "action_id": "clip_video",
            "value": "A",
        }

    def test_kept_through_edits_and_added_when_complete(
        self, bot: Bot, world: World, rhombus: FakeRhombus
    ) -> None:
        """A Claim's redraw keeps Video; a card posted while rendering gains it when the clip
        completes."""
        bot.press("clip_claim", "A", ts=card(world).ts, block_id="triage:0")
        assert eventually(lambda: card(world).edits == 1)
        rhombus.add(clip("R", T0 + 2, status="RENDERING", byteCount=SIZE))
        world.poller.poll_once()
        rendering = world.slack.posts("C1")[1]
        assert labels(rendering) == ["Claim", "Resolve", "False alarm", "Share link"]
        rhombus.update("R", status="COMPLETE")
        world.poller.poll_once()
        assert labels(card(world))[-1] == "Video"
        assert labels(world.slack.posts("C1")[1])[-1] == "Video"


def labels(message: Message) -> list[str]:
    actions = next(b for b in message.blocks or [] if b["type"] == "actions")
    return [e["text"]["text"] for e in actions["elements"]]


class TestUpload:
    def test_press_uploads_into_the_thread(self, bot: Bot, world: World) -> None:
        """The MP4 arrives whole in the card's thread, titled with the clip, and is recorded."""
        press(bot, world)
        assert eventually(lambda: world.store.video("A"))
        (file,) = world.slack.files.values()
        assert (file.filename, file.title, file.channel, file.thread_ts, file.completed) == (
            "A.mp4",
            "Gate left open",
            "C1",
            card(world).ts,
            True,
        )
        assert (file.length, file.received, file.sha256) == (SIZE, SIZE, sha256_of_video(SIZE))
        assert [(m.text, m.files) for m in thread(world)] == [
            ("<@U2> asked for the video (1.4 MB).", [file.id])
        ]
        assert world.store.video("A") == VideoFile(
            clip_uuid="A",
            file_id=file.id,
            permalink=file.permalink,
            size_bytes=SIZE,
            channel_id="C1",
            thread_ts=card(world).ts,
            uploaded_by="U2",
            uploaded_at_ms=world.now[0],
        )
        assert notes(world) == ["Fetching the video; it will appear in this thread shortly."]
        media = next(r for r in world.rhombus.requests if r.path.endswith(".mp4"))
        assert media.path == "/media/metadata/us-west-2/A.mp4"
        assert media.headers["x-auth-apikey"] == "rk-test-0123456789abcdef"

    def test_absolute_clip_location_v2_is_used(self, bot: Bot, world: World) -> None:
        """An absolute clipLocationV2 is where the MP4 is fetched from."""
        world.rhombus.update("A", clipLocationV2=f"{world.rhombus.media_url}/media/v2/A.mp4")
        press(bot, world)
        assert eventually(lambda: world.store.video("A"))
        assert [r.path for r in world.rhombus.requests if r.path.endswith(".mp4")] == [
            "/media/v2/A.mp4"
        ]

    def test_second_press_links_the_same_file(self, bot: Bot, world: World) -> None:
        """Pressing again, here or on another channel's card, links the upload: no new download."""
        press(bot, world)
        assert eventually(lambda: world.store.video("A"))
        (file,) = world.slack.files.values()
        press(bot, world, user="U3")
        press(bot, world, channel="C2", user="U4")
        assert eventually(lambda: len(thread(world)) == 2 and thread(world, "C2"))
        assert sorted(
            (e.kind, e.user_id, e.channel_id, e.details, e.clip_uuid) for e in world.store.audit(0)
        ) == [
            (AuditKind.VIDEO, "U2", "C1", "Gate left open (1.4 MB)", "A"),
            (AuditKind.VIDEO, "U3", "C1", "Gate left open (the earlier upload, linked)", "A"),
            (AuditKind.VIDEO, "U4", "C2", "Gate left open (the earlier upload, linked)", "A"),
        ]
        link = f"<{file.permalink}|Gate left open>"
        assert thread(world)[1].text == f"<@U3> asked for the video (1.4 MB): {link}"
        assert [m.text for m in thread(world, "C2")] == [
            f"<@U4> asked for the video (1.4 MB): {link}"
        ]
        assert (media_requests(world), len(world.slack.files)) == (1, 1)

    def test_press_during_download_says_so(
        self, bot: Bot, world: World, rhombus: FakeRhombus
    ) -> None:
        """A second press while the first is downloading gets a note, not a second download."""
        rhombus.videos["A"] = Video(SIZE, latency=1.0)
        press(bot, world)
        assert eventually(lambda: media_requests(world) == 1)
        press(bot, world, user="U3")
        assert eventually(lambda: world.store.video("A"))
        assert (
            "This clip's video is being fetched right now; it will appear in the thread shortly."
            in notes(world)
        )
        assert (media_requests(world), len(world.slack.files)) == (1, 1)

    def test_downloads_are_bounded(self, world: World, rhombus: FakeRhombus) -> None:
        """With every download slot taken, another clip's press is told to wait."""
        rhombus.add(clip("B", T0 + 2, byteCount=SIZE))
        world.poller.poll_once()
        rhombus.videos["A"] = Video(SIZE, latency=1.0)
        rhombus.videos["B"] = Video(SIZE)
        bot = Bot(world, videos=desk(world, workers=1))
        press(bot, world)
        assert eventually(lambda: media_requests(world) == 1)
        (_, second) = world.slack.posts("C1")
        bot.press("clip_video", "B", ts=second.ts)
        assert eventually(
            lambda: (
                "clipbot is already fetching 1 videos; press Video again in a minute."
                in notes(world)
            )
        )
        assert eventually(lambda: world.store.video("A"))
        assert world.store.video("B") is None


class TestSharePolicy:
    def test_off_hides_the_button(self) -> None:
        """CLIPBOT_SHARE=off hides Video along with Share link."""
        card = Card(Clip("A", status="COMPLETE", byte_count=10), "C1", 0)
        labels = [
            [
                e["text"]["text"]
                for e in blocks.triage_buttons(card, share=share, video_max_bytes=LIMIT)["elements"]
            ]
            for share in (True, False)
        ]
        assert labels == [
            ["Claim", "Resolve", "False alarm", "Share link", "Video"],
            ["Claim", "Resolve", "False alarm"],
        ]

    def test_admins_only(self, world: World) -> None:
        """With CLIPBOT_SHARE=admins a non-admin's press is refused and nothing is fetched."""
        bot = Bot(world, admins=frozenset({"UADMIN"}), share=SharePolicy.ADMINS, videos=desk(world))
        press(bot, world, user="U2")
        assert eventually(lambda: notes(world))
        assert notes(world) == [
            "Only clipbot admins may share clips from Slack here (CLIPBOT_SHARE=admins); ask one "
            "of them to press it."
        ]
        press(bot, world, user="UADMIN")
        assert eventually(lambda: world.store.video("A"))
        assert media_requests(world) == 1


class TestRefusals:
    def test_too_large_by_byte_count(self, bot: Bot, world: World, rhombus: FakeRhombus) -> None:
        """A clip Rhombus says is over the limit is not downloaded; the thread says why."""
        rhombus.update("A", byteCount=120 * MB)
        press(bot, world)
        assert eventually(lambda: thread(world))
        assert thread(world)[0].text == (
            "This clip's video is too large to upload (120 MB; clipbot uploads up to 4.0 MB, "
            f"`CLIPBOT_VIDEO_MAX_MB`). {CONSOLE_LINK}"
        )
        assert media_requests(world) == 0

    def test_unknown_size_stops_at_the_limit(
        self, bot: Bot, world: World, rhombus: FakeRhombus
    ) -> None:
        """Without byteCount or Content-Length the download stops at the limit; nothing uploads."""
        rhombus.update("A", byteCount=None)
        rhombus.videos["A"] = Video(LIMIT * 3, declare_length=False)
        press(bot, world)
        assert eventually(lambda: thread(world))
        assert thread(world)[0].text == (
            "This clip's video is too large to upload (over 4.0 MB; clipbot uploads up to "
            f"4.0 MB, `CLIPBOT_VIDEO_MAX_MB`). {CONSOLE_LINK}"
        )
        assert (world.slack.files, world.store.video("A")) == ({}, None)

    def test_not_rendered_yet(self, bot: Bot, world: World, rhombus: FakeRhombus) -> None:
        """A clip Rhombus now reports as rendering is answered in the thread, not fetched."""
        rhombus.update("A", status="RENDERING")
        press(bot, world)
        assert eventually(lambda: thread(world))
        assert thread(world)[0].text == (
            "This clip is not rendered yet (rendering); press Video again when it is. "
            + CONSOLE_LINK
        )
        assert media_requests(world) == 0

    @pytest.mark.parametrize(
        ("reply", "said"),
        [
            (Reply(403), "the media server refused the API key (HTTP 403)"),
            (Reply(404), "the media server has no video for this clip (HTTP 404)"),
            (Reply(502), "the media server answered HTTP 502"),
        ],
    )
    def test_media_server_refusing(
        self, bot: Bot, world: World, rhombus: FakeRhombus, reply: Reply, said: str
    ) -> None:
        """A refusal from the media server is told to the presser; nothing is uploaded."""
        rhombus.fail("A.mp4", reply)
        press(bot, world)
        assert eventually(lambda: len(notes(world)) == 2)
        assert notes(world)[1] == f":warning: Could not get the video from Rhombus: {said}."
        assert (world.slack.files, world.store.video("A")) == ({}, None)

    @pytest.mark.parametrize(
        ("setting", "said"),
        [
            (
                "uploads_disabled",
                "this workspace has file uploads turned off (`file_uploads_disabled`)",
            ),
            (
                "upload_limit",
                "this workspace does not allow files this large (`file_upload_size_restricted`)",
            ),
        ],
    )
    def test_slack_refusing(
        self, bot: Bot, world: World, slack: FakeSlack, setting: str, said: str
    ) -> None:
        """Slack refusing the upload is told to the presser with its code and the console link."""
        if setting == "uploads_disabled":
            slack.uploads_disabled = True
        else:
            slack.upload_limit = SIZE - 1
        press(bot, world)
        assert eventually(lambda: len(notes(world)) == 2)
        assert notes(world)[1] == f":warning: Could not upload the video: {said}. {CONSOLE_LINK}"
        assert world.store.video("A") is None

    def test_private_clip_needs_a_private_subscription(
        self, bot: Bot, world: World, rhombus: FakeRhombus
    ) -> None:
        """A private clip's video goes only where the channel's subscription takes private clips
        (here C1 dropped private:yes after the card was posted)."""
        world.subscribe("C1", include_private=True)
        world.subscribe("C2", include_private=True)
        rhombus.add(clip("P", T0 + 2, visibility="PRIVATE", byteCount=SIZE))
        rhombus.videos["P"] = Video(SIZE)
        world.poller.poll_once()
        world.subscribe("C1")
        for channel in ("C1", "C2"):
            bot.press("clip_video", "P", channel=channel, ts=world.slack.posts(channel)[1].ts)
        assert eventually(lambda: world.store.video("P"))
        assert notes(world)[0].startswith(
            "This clip is private or role-restricted in Rhombus, and this channel's subscription"
        )
        assert [f.channel for f in world.slack.files.values()] == ["C2"]


def test_stopping_abandons_a_download(world: World, rhombus: FakeRhombus, tmp_path: Path) -> None:
    """Shutdown stops a download at its next chunk, leaving no file behind."""
    videos = desk(world)
    rhombus.videos["A"] = Video(LIMIT - 1, declare_length=False)
    videos.stopping.set()
    target = tmp_path / "a.mp4"
    with pytest.raises(Exception, match="clipbot is stopping"):
        videos.download(f"{rhombus.media_url}/media/metadata/us-west-2/A.mp4", target)
    assert target.stat().st_size == 0


def test_concurrent_presses_on_one_clip_download_once(world: World, rhombus: FakeRhombus) -> None:
    """Presses racing on one clip: exactly one download, the others are told it is under way."""
    rhombus.videos["A"] = Video(SIZE, latency=0.5)
    videos = desk(world)
    told: list[str] = []
    stored = world.store.card("A", "C1")
    assert stored is not None
    threads = [
        threading.Thread(target=videos.press, args=(stored, f"U{i}", told.append)) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (media_requests(world), len(world.slack.files)) == (1, 1)
    assert (
        sorted(told).count(
            "This clip's video is being fetched right now; it will appear in the thread shortly."
        )
        == 3
    )


def test_replicas_download_a_clip_once(world: World, rhombus: FakeRhombus) -> None:
    """Two replicas (two desks on one store) pressed at once: one fetches, the other says so;
    pressed again after, it links the same upload."""
    rhombus.videos["A"] = Video(SIZE, latency=0.5)
    first, second = desk(world), desk(world)
    stored = world.store.card("A", "C1")
    assert stored is not None
    told: list[str] = []
    racing = threading.Thread(target=first.press, args=(stored, "U1", told.append))
    racing.start()
    assert eventually(lambda: media_requests(world) == 1)
    second.press(stored, "U2", told.append)
    racing.join()
    assert told[-1] == BUSY_CLIP
    second.press(stored, "U3", told.append)
    assert (media_requests(world), len(world.slack.files), len(thread(world))) == (1, 1, 2)
