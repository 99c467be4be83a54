"""A share link Rhombus hands out goes into a thread line's text only when it is a plain web
link: garbage in `shareUrl` (a Slack mention, markup, not a URL) is refused, not posted."""

from __future__ import annotations

import pytest

from clipbot.media import web_link
from tests import test_http
from tests.bolt import Bot, eventually
from tests.fakes.server import Reply
from tests.test_http import card
from tests.world import World

world = test_http.world  # a subscribed C1 with the card of clip A


@pytest.mark.parametrize(
    "garbage", ["<!channel>", "https://x.test/a <!here>", "https://x.test/<@U1|a>", "share1", 7]
)
def test_garbage_share_url_is_refused_not_posted(world: World, garbage: object) -> None:
    """Share link with Rhombus answering a shareUrl that is no plain link: the presser is told
    it could not be made, and nothing is posted in the card's thread (no `<!channel>` ping)."""
    bot = Bot(world)
    world.rhombus.fail("createSharedClipGroupV3", Reply.json({"shareUrl": garbage}))
    bot.press("clip_share", "A", user="U2", ts=card(world).ts)
    told = eventually(lambda: world.slack.responses)
    assert told[0]["text"].startswith(
        ":warning: Could not create a share link: Rhombus createSharedClipGroupV3 returned no"
        " usable shareUrl."
    )
    bot.settled()
    assert world.slack.replies("C1", card(world).ts) == []


def test_web_link() -> None:
    """Plain http(s) links pass as they are; anything else is None."""
    good = "https://share.example.test/clips/share1?t=a&b=c"
    assert web_link(good) == good
    assert web_link("http://share.example.test/x") == "http://share.example.test/x"
    for bad in ("", "javascript:alert(1)", "https://", "ftp://x.test/a", "https://a.test/ b"):
        assert web_link(bad) is None, bad
