"""Answers to the person who ran a command, pressed a button or submitted a form are never
dropped silently.

Bolt's `respond` posts to the request's response_url and does not raise when Slack refuses
(the URL takes 5 posts within 30 minutes, then answers 404; it can fail with 5xx too).
`CheckedRespond` checks each answer, and sends a refused one as `chat.postEphemeral` instead;
`install` makes it the `respond` every listener (and the error handler) is given. A modal's
submission has no response_url, and its modal is closed once acknowledged: `tell_submitter`
answers in the card's channel, or in a small modal of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookResponse

from clipbot.blocks import section
from clipbot.notify import SlackPoster
from clipbot.slack.requests import NoteSubmission
from clipbot.slack_errors import slack_error

log = logging.getLogger(__name__)


class CheckedRespond(Respond):
    """Bolt's `respond`, with its answer checked: refused, it goes as an ephemeral message to
    the same person in the same channel. Never raises for Slack's refusals (they are logged).
    For a note form's `submission` (a view_submission body: no response_url) its text goes to
    the submitter through `tell_submitter`."""

    def __init__(
        self,
        response_url: str | None,
        poster: SlackPoster,
        channel: str,
        user: str,
        submission: dict[str, Any] | None = None,
    ):
        super().__init__(response_url=response_url)
        self._poster = poster
        self._channel = channel
        self._user = user
        self._submission = submission

    def __call__(  # the same arguments as Bolt's respond
        self,
        text: str | dict[Any, Any] = "",
        blocks: Sequence[dict[Any, Any] | Block] | None = None,
        attachments: Sequence[dict[Any, Any] | Attachment] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self._submission is not None:
            said = text.get("text") if isinstance(text, dict) else text
            tell_submitter(self._poster, self._submission, self._user, str(said or ""))
            return WebhookResponse(url="", status_code=200, body="ok (told)", headers={})
        try:
            response = super().__call__(
                text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
            if response.status_code == 200:
                return response
            problem = f"HTTP {response.status_code} {str(response.body)[:40]}"
        except (SlackClientError, OSError) as exc:
            problem = slack_error(exc)
        log.warning("response_url refused an answer (%s); sending it as an ephemeral", problem)
        message = text if isinstance(text, dict) else {"text": text, "blocks": blocks}
        try:
            self._poster.ephemeral(
                self._channel,
                self._user,
                {"text": message.get("text") or "", "blocks": message.get("blocks")},
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.error("could not answer %s in %s: %s", self._user, self._channel, slack_error(exc))
            return WebhookResponse(url="", status_code=502, body=slack_error(exc), headers={})
        return WebhookResponse(url="", status_code=200, body="ok (chat.postEphemeral)", headers={})


def install(app: App, poster: SlackPoster) -> None:
    """Makes every listener's `respond` a CheckedRespond (a note form's submission's too,
    though it has no response_url: its answers go to the submitter)."""

    @app.middleware
    def checked_respond(
        context: BoltContext, body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        url = body.get("response_url")
        if isinstance(url, str) and url:
            container = body.get("container") or {}
            channel = (
                body.get("channel_id")
                or container.get("channel_id")
                or (body.get("channel") or {}).get("id")
            )
            user = body.get("user_id") or (body.get("user") or {}).get("id")
            context["respond"] = CheckedRespond(url, poster, str(channel or ""), str(user or ""))
        elif body.get("type") == "view_submission":
            user = str((body.get("user") or {}).get("id", ""))
            context["respond"] = CheckedRespond(None, poster, "", user, submission=body)
        return next()


def tell_submitter(poster: SlackPoster, body: dict[str, Any], user: str, text: str) -> None:
    """Tells `user`, who submitted the note form `body` (a view_submission), `text`: as an
    ephemeral message in the card's channel (chat.postEphemeral), or, when the form names no
    channel it can be read from or Slack refuses the message there (`is_archived`,
    `user_not_in_channel`, …), in a small modal opened with the submission's own `trigger_id`
    (views.open; Slack honours it for 3 seconds). Never raises; logged when neither works."""
    note = NoteSubmission.from_body(body)
    if note is not None:
        try:
            poster.ephemeral(note.channel_id, user, {"text": text})
            return
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.info("could not answer %s in %s (%s): in a modal", user, note.channel_id, exc)
    trigger = str(body.get("trigger_id") or "")
    if not (trigger and poster.open_view(trigger_id=trigger, view=notice(text))):
        log.warning("could not answer %s's note form at all", user)


def notice(text: str) -> dict[str, Any]:
    """A modal that only says `text` (mrkdwn, within a section's 3000 characters)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "clipbot"},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [section(text)],
    }
