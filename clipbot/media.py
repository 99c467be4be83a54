"""Where a clip's media lives on the Rhombus media server: thumbnail and MP4 URLs; links
Rhombus hands out, checked before they go into Slack text."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from clipbot.records import Clip


def thumbnail_url(media_url: str, clip: Clip) -> str | None:
    """Where a clip's thumbnail is: the V2 location when absolute, else the region form."""
    return media_location(
        media_url, clip.uuid, clip.thumbnail_location_v2, clip.thumbnail_region, "jpeg"
    )


def video_url(media_url: str, clip: Clip) -> str | None:
    """Where a clip's MP4 is: `clipLocationV2` when absolute, else the region form."""
    return media_location(media_url, clip.uuid, clip.clip_location_v2, clip.clip_region, "mp4")


def media_location(
    media_url: str, clip_uuid: str, v2: str | None, region: str | None, extension: str
) -> str | None:
    """`v2` when it is an absolute URL (it is opaque otherwise) that HTTP can use, else
    `{media}/media/metadata/{region}/{uuid}.{extension}`; None without either. (A `v2` httpx
    refuses to parse, like `https://a:b:c/x`, would raise at every request, not fail it.)"""
    if (v2 or "").startswith(("https://", "http://")) and _usable(v2 or ""):
        return v2
    if region:
        return f"{media_url}/media/metadata/{region}/{clip_uuid}.{extension}"
    return None


def _usable(url: str) -> bool:
    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return True


def web_link(value: object) -> str | None:
    """`value` when it is an http(s) URL with a host and nothing Slack's mrkdwn would read as
    markup (`<`, `>`, `|`) or whitespace, so it stays a link in a message's text rather than,
    say, a `<!channel>` mention; else None."""
    if not isinstance(value, str) or any(c in value for c in "<>|") or value.split() != [value]:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("https", "http") and parts.netloc else None
