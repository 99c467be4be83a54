"""Slack over HTTP: Bolt's WSGI adapter behind a guard that refuses oversized bodies unread.

Bolt answers Slack's `ssl_check` and `url_verification` itself; the guard keeps a huge (or
lying) request from being read into memory and parsed at all, turns a body that is not Slack's
JSON or form data (a JSON object) into a 400, and checks the signature before Bolt reads the
body: Bolt interprets a body before it checks its signature, so any shape it does not expect
from anyone (a JSON list, `"event": null`, a timestamp that is not a number) would be a
traceback and a 500.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

# Slack's largest payloads (a modal's view state, a message with 50 blocks) stay far below this.
MAX_BODY_BYTES = 1 << 20


def slack_wsgi(
    app: App, signing_secret: str, max_body_bytes: int = MAX_BODY_BYTES
) -> WSGIApplication:
    """The WSGI app serving `app` at /slack/events: bodies over `max_body_bytes` get 413, bodies
    that are not a JSON object (as JSON or form data) 400, and requests not signed with
    `signing_secret` 401 (Slack's unsigned `ssl_check` aside), before Bolt reads them."""
    bolt = SlackRequestHandler(app)
    verifier = SignatureVerifier(signing_secret)

    def serve(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw = str(environ.get("CONTENT_LENGTH") or "0").strip()
        length = int(raw) if raw.isdigit() else None
        if length is None or length > max_body_bytes:
            status = "400 Bad Request" if length is None else "413 Content Too Large"
            log.warning("refused an HTTP request before reading it: %s (%s bytes)", status, raw)
            return _plain(start_response, status)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # Bolt reads it again
        kind = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            parsed = parse_body(body.decode(), kind or None)
        except ValueError:  # not UTF-8, not JSON
            parsed = None
        if not isinstance(parsed, dict):
            log.warning("refused an HTTP request whose body is not Slack's JSON or form data")
            return _plain(start_response, "400 Bad Request")
        if parsed.get("ssl_check") != "1" and not _signed(verifier, body, environ):
            log.warning("refused an HTTP request without a valid Slack signature")
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [b'{"error": "invalid request"}']
        try:
            return bolt(environ, start_response)
        except ValueError:
            # Bolt parses the body before it checks the signature: malformed JSON or form
            # data from anyone would otherwise be a traceback and a 500.
            log.warning("refused an HTTP request whose body is not Slack's JSON or form data")
            return _plain(start_response, "400 Bad Request")

    return serve


def _signed(verifier: SignatureVerifier, body: bytes, environ: WSGIEnvironment) -> bool:
    """Whether the request carries Slack's signature of `body`, made in the last 5 minutes."""
    timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or "")
    signature = str(environ.get("HTTP_X_SLACK_SIGNATURE") or "")
    if not timestamp.isdigit():
        return False
    return verifier.is_valid(body, timestamp, signature)


def _plain(start_response: StartResponse, status: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [status.encode() + b"\n"]
