"""Slack's documented Block Kit and message limits, checked the way the fake Slack refuses.

Each check returns the problems it finds as short sentences (empty: Slack would accept it), and
`message_error` / `view_error` turn them into the error code Slack answers with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

MESSAGE_BLOCKS = 50  # blocks in one message
VIEW_BLOCKS = 100  # blocks in a modal or the App Home
SECTION_TEXT = 3000
SECTION_FIELDS, FIELD_TEXT = 10, 2000
BUTTON_LABEL, BUTTON_VALUE, BUTTON_URL = 75, 2000, 3000
ACTIONS_ELEMENTS, CONTEXT_ELEMENTS = 25, 10
HEADER_TEXT = 150
ALT_TEXT = 2000
BLOCK_ID = ACTION_ID = CALLBACK_ID = 255
PRIVATE_METADATA = 3000
VIEW_TITLE = 24  # modal title, submit and close labels
MESSAGE_TEXT = 40_000  # the `text` field: longer answers msg_too_long
BLOCKS_TEXT = 13_000  # all text in a message's blocks together: msg_blocks_too_long
# Message metadata, as JSON: Slack documents no number, but a whole message must stay within its
# message server's 16 KB and blocks may take 13,000 characters of it; assumed (like
# private_metadata), and refused as invalid_metadata_format over it.
MESSAGE_METADATA = 3000


def message_error(text: Any, blocks: Any, metadata: Any = None) -> tuple[str, list[str]] | None:
    """The error Slack answers a message with (and why), or None when it would post it."""
    if not text and not blocks:
        return "no_text", ["a message needs text or blocks"]
    size = len(json.dumps(metadata)) if metadata is not None else 0
    if size > MESSAGE_METADATA:
        return "invalid_metadata_format", [
            f"metadata is {size} characters, over {MESSAGE_METADATA}"
        ]
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        return "msg_too_long", [f"text is {len(text)} characters, over {MESSAGE_TEXT}"]
    if blocks is None:
        return None
    problems = block_problems(blocks, MESSAGE_BLOCKS)
    if problems:
        return "invalid_blocks", problems
    total = sum(len(t) for t in _texts(blocks))
    if total > BLOCKS_TEXT:
        return "msg_blocks_too_long", [f"blocks hold {total} characters, over {BLOCKS_TEXT}"]
    return None


def view_error(view: Any) -> tuple[str, list[str]] | None:
    """views.open / views.publish: invalid_arguments (and why), or None."""
    if not isinstance(view, dict):
        return "invalid_arguments", ["view must be an object"]
    problems = block_problems(view.get("blocks"), VIEW_BLOCKS)
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.append(f"view type {kind!r} is not modal or home")
    metadata = view.get("private_metadata") or ""
    if len(metadata) > PRIVATE_METADATA:
        problems.append(f"private_metadata is {len(metadata)} characters, over {PRIVATE_METADATA}")
    if len(view.get("callback_id") or "") > CALLBACK_ID:
        problems.append(f"callback_id is over {CALLBACK_ID} characters")
    if kind == "modal":
        problems += _text_problems(view.get("title"), "title", VIEW_TITLE, plain=True)
        for key in ("submit", "close"):
            if key in view:
                problems += _text_problems(view[key], key, VIEW_TITLE, plain=True)
    return ("invalid_arguments", problems) if problems else None


def block_problems(blocks: Any, max_blocks: int) -> list[str]:
    """Every way `blocks` breaks Slack's limits for a surface holding at most `max_blocks`."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks, over {max_blocks}")
    ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(ids) != len(set(ids)):
        problems.append("block_id values repeat")
    for index, block in enumerate(blocks):
        problems += [f"block {index}: {p}" for p in _block(block)]
    return problems


def _block(block: Any) -> list[str]:
    if not isinstance(block, dict):
        return ["not an object"]
    kind = block.get("type")
    check = _BLOCKS.get(str(kind))
    if check is None:
        return [f"unknown block type {kind!r}"]
    problems = check(block)
    if len(str(block.get("block_id") or "")) > BLOCK_ID:
        problems.append(f"block_id over {BLOCK_ID} characters")
    return problems


def _section(block: dict[str, Any]) -> list[str]:
    if "text" not in block and "fields" not in block:
        return ["section needs text or fields"]
    problems = []
    if "text" in block:
        problems += _text_problems(block["text"], "text", SECTION_TEXT)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or not 1 <= len(fields) <= SECTION_FIELDS:
            problems.append(f"fields must be 1 to {SECTION_FIELDS} text objects")
        else:
            for i, item in enumerate(fields):
                problems += _text_problems(item, f"field {i}", FIELD_TEXT)
    if "accessory" in block:
        problems += _element(block["accessory"])
    return problems


def _actions(block: dict[str, Any]) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_ELEMENTS:
        return [f"actions need 1 to {ACTIONS_ELEMENTS} elements"]
    problems = [p for element in elements for p in _element(element)]
    ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
    if len(ids) != len(set(ids)):
        problems.append("action_id values repeat")
    return problems


def _context(block: dict[str, Any]) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS:
        return [f"context needs 1 to {CONTEXT_ELEMENTS} elements"]
    return [
        p
        for i, element in enumerate(elements)
        for p in (
            [] if element.get("type") == "image" else _text_problems(element, f"element {i}", None)
        )
    ]


def _header(block: dict[str, Any]) -> list[str]:
    return _text_problems(block.get("text"), "header", HEADER_TEXT, plain=True)


def _image(block: dict[str, Any]) -> list[str]:
    problems = _text_problems(
        {"type": "plain_text", "text": block.get("alt_text")}, "alt_text", ALT_TEXT
    )
    if not block.get("image_url") and not (block.get("slack_file") or {}).get("id"):
        problems.append("image needs image_url or slack_file")
    return problems


def _input(block: dict[str, Any]) -> list[str]:
    problems = _text_problems(block.get("label"), "label", 2000, plain=True)
    return problems + ([] if isinstance(block.get("element"), dict) else ["input needs element"])


def _element(element: Any) -> list[str]:
    if not isinstance(element, dict):
        return ["element is not an object"]
    problems = []
    if len(str(element.get("action_id") or "")) > ACTION_ID:
        problems.append(f"action_id over {ACTION_ID} characters")
    if element.get("type") == "button":
        problems += _text_problems(element.get("text"), "button label", BUTTON_LABEL, plain=True)
        if len(str(element.get("value") or "")) > BUTTON_VALUE:
            problems.append(f"button value is {len(element['value'])} characters, over 2000")
        if len(str(element.get("url") or "")) > BUTTON_URL:
            problems.append(f"button url over {BUTTON_URL} characters")
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"button style {element['style']!r}")
    return problems


def _text_problems(text: Any, what: str, limit: int | None, *, plain: bool = False) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"{what} must be a text object"]
    if text.get("type") not in (("plain_text",) if plain else ("plain_text", "mrkdwn")):
        return [f"{what} has text type {text.get('type')!r}"]
    length = len(text["text"])
    if length == 0:
        return [f"{what} is empty"]
    if limit is not None and length > limit:
        return [f"{what} is {length} characters, over {limit}"]
    return []


def _texts(value: Any) -> Iterator[str]:
    """Every string in text objects anywhere inside `value`."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value["text"]
            return
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


_BLOCKS = {
    "section": _section,
    "actions": _actions,
    "context": _context,
    "header": _header,
    "image": _image,
    "input": _input,
    "divider": lambda block: [],
    "rich_text": lambda block: [],
}
