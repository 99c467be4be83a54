"""HTTP mode over a real socket: retried deliveries act once; big bodies, ssl_check and
url_verification are handled before any listener runs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest

from clipbot.slack.http import MAX_BODY_BYTES, slack_wsgi
from clipbot.state import AuditKind
from tests.bolt import TEAM, Bot, eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import SIGNING_SECRET, FakeSlack, Message
from tests.test_commands import sign
from tests.world import T0, World


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def world(rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path) -> Iterator[World]:
    w = World(rhombus, slack, tmp_path / "clipbot.db")
    w.subscribe("C1")
    rhombus.add(clip("A", T0 + 1, title="Gate left open"))
    w.poller.poll_once()
    yield w
    w.close()


@pytest.fixture
def url(world: World) -> Iterator[str]:
    """The bot served over HTTP on a loopback port, as `clipbot run` serves it."""
    bot = Bot(world)
    server = make_server(
        "127.0.0.1",
        0,
        slack_wsgi(bot.app, SIGNING_SECRET),
        server_class=_Server,
        handler_class=_Quiet,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    server.shutdown()
    server.server_close()
    thread.join()


def card(world: World) -> Message:
    (message,) = world.slack.posts("C1")
    return message


def deliver(url: str, body: str, retry: int = 0, **headers: str) -> httpx.Response:
    """POSTs `body` signed now, as Slack delivers it (a retry is signed afresh, and says so)."""
    signed = sign(body, int(time.time()))
    if retry:
        signed |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    return httpx.post(url, content=body, headers=signed | headers, timeout=10)


def press_body(
    world: World, action_id: str, trigger: str, user: str = "U2", version: int = 0
) -> str:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user},
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": card(world).ts},
        "message": {"ts": card(world).ts},
        "trigger_id": trigger,
        "response_url": world.slack.response_url(),
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"triage:{version}",
                "value": "A",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


class TestRetriedDeliveries:
    def test_claim_press_retried_acts_once(self, url: str, world: World) -> None:
        """A signed Claim press delivered again with X-Slack-Retry-Num claims once."""
        body = press_body(world, "clip_claim", "T-claim-1")
        assert deliver(url, body).status_code == 200
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        assert deliver(url, body, retry=1).status_code == 200
        assert deliver(url, body, retry=2).status_code == 200
        time.sleep(0.3)  # a second claim, if any, would have been written and shown by now
        assert [e.action for e in world.store.events("A", "C1")] == ["claim"]
        assert (card(world).edits, len(world.slack.replies("C1", card(world).ts))) == (1, 1)
        assert world.store.card("A", "C1").version == 1  # type: ignore[union-attr]
        assert world.slack.responses == []  # not even "You have already claimed this clip."

    def test_share_press_retried_shares_once(self, url: str, world: World) -> None:
        """Share link delivered twice makes one Rhombus link and one audit entry."""
        body = press_body(world, "clip_share", "T-share-1")
        deliver(url, body)
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        deliver(url, body, retry=1)
        time.sleep(0.3)
        assert len(world.rhombus.shares) == 1
        assert [e.kind for e in world.store.audit(0)] == [AuditKind.SHARE]

    def test_subscribe_command_retried_subscribes_once(self, url: str, world: World) -> None:
        """/clips subscribe delivered twice: one announcement, one audit entry."""
        body = urlencode(
            {
                "team_id": TEAM,
                "channel_id": "C7",
                "user_id": "U1",
                "command": "/clips",
                "text": "subscribe",
                "trigger_id": "T-sub-1",
                "response_url": world.slack.response_url(),
            }
        )
        deliver(url, body)
        eventually(lambda: world.store.audit(0))
        deliver(url, body, retry=1)
        time.sleep(0.3)
        assert len(world.slack.posts("C7")) == 1
        assert [e.kind for e in world.store.audit(0)] == [AuditKind.SUBSCRIBE]

    def test_a_new_press_still_acts(self, url: str, world: World) -> None:
        """Another delivery (its own trigger_id) is not mistaken for a retry."""
        deliver(url, press_body(world, "clip_claim", "T-1"))
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        deliver(url, press_body(world, "clip_claim", "T-2", user="U3", version=1))  # takes over
        eventually(lambda: len(world.store.events("A", "C1")) == 2)
        assert [(e.action, e.user_id) for e in world.store.events("A", "C1")] == [
            ("claim", "U2"),
            ("claim", "U3"),
        ]


class TestAcknowledgedFirst:
    def test_answered_before_the_delivery_is_noted(
        self, url: str, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The HTTP answer (200, empty) comes while the store has not yet noted the press;
        the claim follows once it has."""
        noted, release = threading.Event(), threading.Event()
        real = world.store.first_delivery

        def held(key: str, at_ms: int, *, forget_before_ms: int) -> bool:
            noted.set()
            assert release.wait(10)
            return real(key, at_ms, forget_before_ms=forget_before_ms)

        monkeypatch.setattr(world.store, "first_delivery", held)
        response = deliver(url, press_body(world, "clip_claim", "T-held-1"))
        assert (response.status_code, response.text) == (200, "")
        assert noted.wait(5)
        assert world.store.events("A", "C1") == []
        release.set()
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        assert [e.action for e in world.store.events("A", "C1")] == ["claim"]


class TestBeforeListeners:
    def test_oversized_body_refused_unread(self, url: str, world: World) -> None:
        """A body over the limit gets 413 before Bolt reads it (even a correctly signed one)."""
        calls = len(world.slack.calls)
        body = "payload=" + "x" * MAX_BODY_BYTES
        response = deliver(url, body)
        assert (response.status_code, response.text) == (413, "413 Content Too Large\n")
        assert len(world.slack.calls) == calls  # no listener, no gate ran

    def test_malformed_body_is_a_400_not_a_traceback(
        self, url: str, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A body Bolt cannot parse (it parses before checking the signature) is a short 400."""
        response = httpx.post(
            url,
            content="payload=not-json",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert (response.status_code, response.text) == (400, "400 Bad Request\n")
        assert "Traceback" not in capfd.readouterr().err

    @pytest.mark.parametrize(
        ("body", "content_type", "timestamp", "status"),
        [
            ("[1, 2]", "application/json", None, 400),
            (urlencode({"payload": "[1]"}), "application/x-www-form-urlencoded", None, 400),
            ('{"type": "event_callback", "event": null}', "application/json", None, 401),
            ('{"type": "event_callback", "event": null}', "application/json", "now", 401),
            ("command=/clips&text=help", "application/x-www-form-urlencoded", "abc", 401),
        ],
        ids=[
            "json-list",
            "payload-list",
            "event-null",
            "event-null-badly-signed",
            "ts-not-a-number",
        ],
    )
    def test_odd_unsigned_shapes_refused_before_bolt(
        self,
        url: str,
        world: World,
        capfd: pytest.CaptureFixture[str],
        body: str,
        content_type: str,
        timestamp: str | None,
        status: int,
    ) -> None:
        """Shapes Bolt does not expect, from anyone, are a short 400 (not a JSON object) or 401
        (not signed by Slack) before Bolt reads them: never a traceback and a 500."""
        calls = len(world.slack.calls)
        headers = {"content-type": content_type}
        if timestamp is not None:
            now = str(int(time.time()))
            headers |= {
                "x-slack-request-timestamp": now if timestamp == "now" else timestamp,
                "x-slack-signature": "v0=" + "0" * 64,
            }
        response = httpx.post(url, content=body, headers=headers)
        expected = "400 Bad Request\n" if status == 400 else '{"error": "invalid request"}'
        assert (response.status_code, response.text) == (status, expected)
        assert "Traceback" not in capfd.readouterr().err
        assert len(world.slack.calls) == calls

    def test_ssl_check(self, url: str) -> None:
        """Slack's ssl_check is answered 200 with an empty body, as Bolt does."""
        response = httpx.post(
            url,
            content="ssl_check=1&token=legacy",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert (response.status_code, response.text) == (200, "")

    def test_url_verification(self, url: str) -> None:
        """A signed url_verification gets its challenge back; an unsigned one 401."""
        body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
        response = deliver(url, body, **{"content-type": "application/json"})
        assert (response.status_code, response.json()) == (200, {"challenge": "c-123"})
        unsigned = httpx.post(url, content=body, headers={"content-type": "application/json"})
        assert unsigned.status_code == 401


class TestSocketModeRedelivery:
    def test_redelivered_share_acts_once(self, world: World) -> None:
        """A Socket Mode envelope delivered again (same trigger_id) makes no second link."""
        bot = Bot(world)
        bot.press("clip_share", "A", user="U2", ts=card(world).ts, trigger="T-sm-1")
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        bot.press("clip_share", "A", user="U2", ts=card(world).ts, trigger="T-sm-1")
        time.sleep(0.3)
        assert len(world.rhombus.shares) == 1
        assert len(world.slack.replies("C1", card(world).ts)) == 1

    def test_store_down_still_acts(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        """If the delivery cannot be noted (store unavailable), the press is acted on anyway."""
        from clipbot.store import StoreUnavailable

        def down(key: str, at_ms: int, *, forget_before_ms: int) -> bool:
            raise StoreUnavailable("database restarting")

        bot = Bot(world)
        monkeypatch.setattr(world.store, "first_delivery", down)
        bot.press("clip_claim", "A", user="U2", ts=card(world).ts, block_id="triage:0")
        eventually(lambda: world.slack.replies("C1", card(world).ts))
        assert world.store.card("A", "C1").owner == "U2"  # type: ignore[union-attr]
