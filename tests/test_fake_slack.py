"""The fake Slack refuses what Slack refuses: Block Kit limits, spent response URLs."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.fakes.server import Reply
from tests.fakes.slack import BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.slack_refusals


def text(n: int, kind: str = "mrkdwn") -> dict[str, str]:
    return {"type": kind, "text": "x" * n}


def section(n: int = 10) -> dict[str, Any]:
    return {"type": "section", "text": text(n)}


def button(label: int = 4, value: int = 10) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": text(label, "plain_text"),
                "action_id": "a",
                "value": "v" * value,
            }
        ],
    }


def fields(count: int, size: int = 10) -> dict[str, Any]:
    return {"type": "section", "fields": [text(size) for _ in range(count)]}


def post_error(slack: FakeSlack, **message: Any) -> str | None:
    """The error chat.postMessage answers, or None when it posted."""
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    try:
        client.chat_postMessage(channel="C1", **message)
    except SlackApiError as exc:
        return str(exc.response["error"])
    return None


# Each limit: the largest message Slack takes, and one just past it.
LIMITS = {
    "50 blocks": ([section()] * 50, [section()] * 51),
    "section text 3000": ([section(3000)], [section(3001)]),
    "10 fields": ([fields(10)], [fields(11)]),
    "field 2000": ([fields(1, 2000)], [fields(1, 2001)]),
    "button value 2000": ([button(value=2000)], [button(value=2001)]),
    "button label 75": ([button(label=75)], [button(label=76)]),
    "header 150": (
        [{"type": "header", "text": text(150, "plain_text")}],
        [{"type": "header", "text": text(151, "plain_text")}],
    ),
}


class TestMessageLimits:
    @pytest.mark.parametrize("limit", LIMITS)
    def test_at_and_past_each_limit(self, slack: FakeSlack, limit: str) -> None:
        """A message at the limit posts; one past it is refused with invalid_blocks."""
        fits, too_big = LIMITS[limit]
        assert post_error(slack, text="t", blocks=fits) is None
        assert post_error(slack, text="t", blocks=too_big) == "invalid_blocks"
        assert [m.blocks for m in slack.posts("C1")] == [fits]
        assert [error for error, _ in slack.refused] == ["invalid_blocks"]

    def test_text_too_long(self, slack: FakeSlack) -> None:
        """The plain text beyond 40,000 characters is msg_too_long."""
        assert post_error(slack, text="x" * 40_000) is None
        assert post_error(slack, text="x" * 40_001) == "msg_too_long"

    def test_blocks_text_total(self, slack: FakeSlack) -> None:
        """All text in the blocks together is bounded (~13k): msg_blocks_too_long."""
        assert post_error(slack, text="t", blocks=[section(2600)] * 5) is None
        assert post_error(slack, text="t", blocks=[section(2600)] * 5 + [section(1)]) == (
            "msg_blocks_too_long"
        )

    def test_metadata_size(self, slack: FakeSlack) -> None:
        """Message metadata over 3,000 characters of JSON is refused (an assumed bound: Slack
        documents none, but a whole message must fit its 16 KB)."""
        empty = len(json.dumps({"event_type": "e", "event_payload": {"k": ""}}))

        def metadata(n: int) -> dict[str, Any]:
            return {"event_type": "e", "event_payload": {"k": "x" * (n - empty)}}

        assert post_error(slack, text="t", metadata=metadata(3000)) is None
        assert post_error(slack, text="t", metadata=metadata(3001)) == "invalid_metadata_format"
        assert len(slack.posts("C1")) == 1

    def test_empty_and_unknown(self, slack: FakeSlack) -> None:
        """No text and no blocks, an empty section text or an unknown block type are refused."""
        with pytest.warns(UserWarning, match="text"):
            assert post_error(slack, text="") == "no_text"
        assert post_error(slack, text="t", blocks=[section(0)]) == "invalid_blocks"
        assert post_error(slack, text="t", blocks=[{"type": "banner"}]) == "invalid_blocks"

    def test_update_and_ephemeral_checked_too(self, slack: FakeSlack) -> None:
        """chat.update and chat.postEphemeral apply the same limits."""
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        ts = client.chat_postMessage(channel="C1", text="t")["ts"]
        with pytest.raises(SlackApiError, match="invalid_blocks"):
            client.chat_update(channel="C1", ts=ts, text="t", blocks=[section(3001)])
        with pytest.raises(SlackApiError, match="invalid_blocks"):
            client.chat_postEphemeral(channel="C1", user="U1", text="t", blocks=[fields(11)])
        client.chat_postEphemeral(channel="C1", user="U1", text="hello")
        assert [(m.channel, m.text) for m in slack.ephemerals] == [("C1", "hello")]
        assert slack.messages[0].edits == 0


class TestArchivedChannel:
    def test_read_but_not_written(self, slack: FakeSlack) -> None:
        """An archived channel keeps its history and says so in conversations.info; posts,
        edits and ephemerals there answer is_archived."""
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        ts = client.chat_postMessage(channel="C1", text="before")["ts"]
        slack.channel("C1", is_archived=True)
        assert client.conversations_info(channel="C1")["channel"]["is_archived"] is True
        assert [m["text"] for m in client.conversations_history(channel="C1")["messages"]] == [
            "before"
        ]
        calls = [
            lambda: client.chat_postMessage(channel="C1", text="t"),
            lambda: client.chat_update(channel="C1", ts=ts, text="t"),
            lambda: client.chat_postEphemeral(channel="C1", user="U1", text="t"),
        ]
        for call in calls:
            with pytest.raises(SlackApiError, match="is_archived"):
                call()
        assert (len(slack.messages), slack.messages[0].edits, slack.ephemerals) == (1, 0, [])


def modal(**fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": text(5, "plain_text"), "blocks": [section()], **fields}


class TestViewLimits:
    def test_home_blocks(self, slack: FakeSlack) -> None:
        """A Home view holds up to 100 blocks; 101 is invalid_arguments."""
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 100})
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 101})

    @pytest.mark.parametrize(
        "view",
        [
            modal(private_metadata="m" * 3001),
            modal(title=text(25, "plain_text")),
            modal(blocks=[section(3001)]),
            modal(blocks=[section()] * 101),
        ],
        ids=["private_metadata", "title", "section", "blocks"],
    )
    def test_modal_limits(self, slack: FakeSlack, view: dict[str, Any]) -> None:
        """A modal past any limit is invalid_arguments; at the limits it opens."""
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        client.views_open(trigger_id="t", view=modal(private_metadata="m" * 3000))
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            client.views_open(trigger_id="t", view=view)


class TestResponseUrl:
    def test_five_uses(self, slack: FakeSlack) -> None:
        """A response_url takes five posts; the sixth is 404 expired_url and is not shown."""
        hook = WebhookClient(slack.response_url())
        statuses = [hook.send(text=f"m{i}").status_code for i in range(6)]
        assert statuses == [200] * 5 + [404]
        assert [r["text"] for r in slack.responses] == [f"m{i}" for i in range(5)]

    def test_thirty_minutes(self, slack: FakeSlack) -> None:
        """After 30 minutes a response_url is expired, used or not."""
        hook = WebhookClient(slack.response_url())
        slack.advance(30 * 60 + 1)
        response = hook.send(text="late")
        assert (response.status_code, response.body) == (404, "expired_url")
        assert slack.responses == []

    def test_each_url_is_its_own(self, slack: FakeSlack) -> None:
        """Every command gets a fresh URL; an unknown one is 404."""
        assert slack.response_url() != slack.response_url()
        never = slack.response_url("issued").replace("issued", "never")
        assert WebhookClient(never).send(text="x").status_code == 404

    def test_failure_on_demand_and_limits(self, slack: FakeSlack) -> None:
        """fail_response makes the endpoint answer 500; blocks past the limits are 400."""
        hook = WebhookClient(slack.response_url())
        slack.fail_response(Reply(500, b"internal_error"))
        assert hook.send(text="a").status_code == 500
        refused = hook.send(text="b", blocks=[section(3001)])
        assert (refused.status_code, refused.body) == (400, "invalid_blocks")
        assert hook.send(text="c").status_code == 200
        assert [r["text"] for r in slack.responses] == ["c"]


def test_a_request_cut_off_mid_body_is_not_acted_on(slack: FakeSlack) -> None:
    """A client that dies while sending its body (a SIGKILLed clipbot) gets nothing done and
    nothing refused: Slack acts only on whole requests."""
    host, port = slack.api_url.split("//")[1].split("/")[0].split(":")
    body = b"channel=C1&text=hello"
    with socket.create_connection((host, int(port))) as sock:
        head = (
            "POST /api/chat.postMessage HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {BOT_TOKEN}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:5])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed without an answer
    assert (slack.calls, slack.messages, slack.refused) == ([], [], [])
