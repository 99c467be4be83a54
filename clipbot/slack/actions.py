"""Button presses and the note modal: More on listings, and triage on clip cards."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from slack_bolt import App, Respond
from slack_sdk.errors import SlackApiError

from clipbot import access, audit, blocks, replies, replying, triage
from clipbot.rhombus import RhombusError
from clipbot.slack.ackfirst import AckFirst
from clipbot.slack.answering import tell_submitter
from clipbot.slack.commands import list_clips, more_position, open_clips, subscriptions
from clipbot.slack.deps import Deps
from clipbot.slack.requests import ActionRequest, NoteSubmission
from clipbot.state import AuditKind, Card, CardKind

NOTE_MODAL = "triage_note"
BUTTON_ACTIONS = {
    blocks.CLAIM: triage.CLAIM,
    blocks.REOPEN: triage.REOPEN,
    blocks.RESOLVE: triage.RESOLVE,
    blocks.FALSE_ALARM_ACTION: triage.FALSE_ALARM_ACTION,
}
PRIVATE_SHARE = (
    "This clip is private or role-restricted in Rhombus, so clipbot will not make a link that "
    "works without a login. Share it from the Rhombus console if you are allowed to."
)
VIDEO_OFF = (
    "Video uploads are turned off here (`CLIPBOT_VIDEO_MAX_MB=0`); the card's title links to "
    "the clip in the Rhombus console."
)
NOTE_FORM_FAILED = (
    "Slack did not open the note form (it may have come too late), so nothing was changed. "
    "Press the button again."
)
UNREADABLE_NOTE = (
    "clipbot could not read this note form (it is not one clipbot opened), so nothing was "
    "changed. Press Resolve or False alarm on the clip's card again."
)
SHARE_AGAIN = "Press Share link again in a moment, or share it from the Rhombus console."
UNKNOWN_CARD = (
    "clipbot has no record of this card any more, so its buttons do nothing. Find the clip with "
    "`/clips`, or open it in the Rhombus console from the card's title."
)
NOT_A_CARD = (
    "That clip was posted in a digest or in a card's thread, not as a card of its own, so it has "
    "no buttons: use the card it belongs to, or find it with /clips."
)


def register(app: App, deps: Deps, after_ack: AckFirst) -> None:
    @app.action(replies.MORE)
    @after_ack.rhombus
    def more(body: dict[str, Any], respond: Respond) -> None:
        request = ActionRequest.from_body(body)
        position = more_position(request.value, deps)
        if position is None:
            respond(
                text="That More button is out of date; run /clips again.", replace_original=False
            )
            return
        query, text, cursor = position
        respond(replace_original=True, **list_clips(query, text, deps, cursor))

    @app.action(replies.OPEN_MORE)
    @after_ack
    def more_open(body: dict[str, Any], respond: Respond) -> None:
        request = ActionRequest.from_body(body)
        respond(replace_original=True, **open_clips(request.channel_id, deps, request.value))

    @app.action(replies.SUBSCRIPTIONS_MORE)
    @after_ack
    def more_subscriptions(body: dict[str, Any], respond: Respond) -> None:
        request = ActionRequest.from_body(body)
        respond(replace_original=True, **subscriptions(request.team_id, deps, request.value))

    @app.action(blocks.CLAIM)
    @app.action(blocks.REOPEN)
    @after_ack
    def claim_or_reopen(body: dict[str, Any], respond: Respond) -> None:
        request, card = _pressed(deps, body, respond)
        if card is None:
            return
        action = BUTTON_ACTIONS[request.action_id]
        refusal = _press(deps, card, action, request.user_id, request.seen_version, None)
        if refusal:
            _tell(respond, refusal)

    @app.action(blocks.RESOLVE)
    @app.action(blocks.FALSE_ALARM_ACTION)
    @after_ack
    def ask_for_note(body: dict[str, Any], respond: Respond) -> None:
        request, card = _pressed(deps, body, respond)
        if card is None:
            return
        action = BUTTON_ACTIONS[request.action_id]
        if refusal := triage.refusal(card, action, request.user_id, request.seen_version):
            _tell(respond, refusal)
            return
        if not deps.poster.open_view(
            trigger_id=request.trigger_id, view=note_modal(card, action, request.seen_version)
        ):
            _tell(respond, NOTE_FORM_FAILED)  # expired_trigger_id, say: nothing was changed

    @app.view(NOTE_MODAL)
    @after_ack
    def note_submitted(body: dict[str, Any], respond: Respond) -> None:
        submission = NoteSubmission.from_body(body)
        if submission is None:
            user = str((body.get("user") or {}).get("id", ""))
            tell_submitter(deps.poster, body, user, UNREADABLE_NOTE)
            return
        card = deps.store.card(submission.clip_uuid, submission.channel_id)
        refusal = (
            UNKNOWN_CARD
            if card is None
            else _press(
                deps,
                card,
                submission.action,
                submission.user_id,
                submission.seen_version,
                submission.note,
            )
        )
        if refusal:
            tell_submitter(deps.poster, body, submission.user_id, refusal)

    @app.action(blocks.SHARE)
    @after_ack.rhombus
    def share(body: dict[str, Any], respond: Respond) -> None:
        if not deps.access.may_share(ActionRequest.from_body(body).user_id):
            _tell(respond, access.share_refusal(deps.share))  # CLIPBOT_SHARE; a forged press too
            return
        request, card = _pressed(deps, body, respond)
        if card is None or card.ts is None:
            return
        if card.clip.is_private:
            _tell(respond, PRIVATE_SHARE)
            return
        try:
            link = deps.rhombus.share(
                card.clip,
                title=blocks.title_of(card.clip),
                description="Shared from Slack by clipbot: " + ", ".join(card.camera_names),
                expires_secs=deps.share_hours * 3600,
            )
        except RhombusError as exc:
            _tell(
                respond,
                f":warning: Could not create a share link: {str(exc).rstrip('.')}. {SHARE_AGAIN}",
            )
            return
        audit.record(
            deps.store,
            AuditKind.SHARE,
            request.user_id,
            card.channel_id,
            deps.now_ms(),
            details=blocks.title_of(card.clip),
            clip_uuid=card.clip.uuid,
            expires_at_ms=link.expires_at_ms,
        )
        expires = blocks.slack_date(link.expires_at_ms)
        at_ms = deps.now_ms()
        which = link.uuid or f"{request.user_id}@{at_ms}"
        replying.reply(
            deps.store,
            deps.poster,
            channel=card.channel_id,
            thread_ts=card.ts,
            key=f"share:{card.channel_id}:{card.clip.uuid}:{which}",
            text=f"<@{request.user_id}> shared a link to this clip (works without a Rhombus login, "
            f"expires {expires}): {link.url}",
            at_ms=at_ms,
        )

    @app.action(blocks.VIDEO)
    @after_ack.rhombus
    def video(body: dict[str, Any], respond: Respond) -> None:
        request, card = _pressed(deps, body, respond)
        if card is None:
            return
        if deps.videos is None:
            _tell(respond, VIDEO_OFF)
            return
        if not deps.access.may_share(request.user_id):
            _tell(respond, access.share_refusal(deps.share))  # CLIPBOT_SHARE; a forged press too
            return
        deps.videos.press(card, request.user_id, lambda text: _tell(respond, text))


def note_modal(card: Card, action: str, seen_version: int) -> dict[str, Any]:
    """The small modal asking for an optional note on Resolve or False alarm."""
    verb = "Resolve" if action == triage.RESOLVE else "False alarm"
    meta = {"c": card.clip.uuid, "ch": card.channel_id, "a": action, "v": seen_version}
    return {
        "type": "modal",
        "callback_id": NOTE_MODAL,
        "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": verb},
        "submit": {"type": "plain_text", "text": verb},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": {"type": "plain_text", "text": "What happened? (optional)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "note",
                    "multiline": True,
                    "max_length": 1000,
                },
            }
        ],
    }


def _press(
    deps: Deps, card: Card, action: str, user: str, seen: int, note: str | None
) -> str | None:
    return triage.press(
        deps.store,
        deps.poster,
        card,
        action,
        user,
        seen_version=seen,
        note=note,
        at_ms=deps.now_ms(),
        console_url=deps.console_url,
        share=deps.access.share_shown,
        video_max_bytes=deps.video_max_bytes,
    )


def _pressed(
    deps: Deps, body: dict[str, Any], respond: Respond
) -> tuple[ActionRequest, Card | None]:
    """The press and the stored card it was on (None, after telling the presser, if unknown or
    not a card: a digest's or a thread line's clip has no buttons, so a press naming it is
    forged or stale and changes nothing)."""
    request = ActionRequest.from_body(body)
    card = deps.store.card(request.value, request.channel_id)
    if card is None or card.ts is None:
        _tell(respond, UNKNOWN_CARD)
        return request, None
    if card.kind is not CardKind.CARD:
        _tell(respond, NOT_A_CARD)
        return request, None
    return request, card


def _tell(respond: Respond, text: str) -> None:
    """An ephemeral note to the presser only."""
    with contextlib.suppress(SlackApiError):
        respond(text=text, response_type="ephemeral", replace_original=False)
