"""Slash-command text as Slack sends it: HTML-escaped, with mentions and links as `<…>` tokens.

Slack escapes what the user typed (`&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`), so a real `<` in
the text always opens one of Slack's own tokens: `<@U…|name>` (a user), `<#C…|name>` (a channel),
`<!subteam^S…|@team>` (a user group), `<!here>` and the like, or `<https://…|label>` (a link).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

SLACK_TOKEN = re.compile(r"<([^<>\s][^<>]*)>")
PLACEHOLDER = re.compile("\x00(\\d+)\x00")
SLACK_ID = re.compile(r"^[A-Z0-9]+$")


class MentionKind(enum.Enum):
    USER = "user"
    CHANNEL = "channel"
    USERGROUP = "usergroup"


@dataclass(frozen=True, slots=True)
class Mention:
    """A user, channel or user group named in command text: its Slack ID and how it read."""

    kind: MentionKind
    id: str
    label: str  # as the user saw it: "@dana", "#general", "@oncall"

    @property
    def mrkdwn(self) -> str:
        """The mention in a message of the bot's: `<@U…>`, `<#C…>` or `<!subteam^S…>`."""
        if self.kind is MentionKind.USER:
            return f"<@{self.id}>"
        if self.kind is MentionKind.CHANNEL:
            return f"<#{self.id}>"
        return f"<!subteam^{self.id}>"


def parse_mention(token: str) -> Mention | None:
    """The mention a whole Slack token stands for (`<@U1|dana>`, `<#C1|general>`,
    `<!subteam^S1|@oncall>`, labels optional); None for anything else."""
    match = SLACK_TOKEN.fullmatch(token.strip())
    if match is None:
        return None
    ref, _, label = match.group(1).partition("|")
    for prefix, kind, sign in (
        ("@", MentionKind.USER, "@"),
        ("#", MentionKind.CHANNEL, "#"),
        ("!subteam^", MentionKind.USERGROUP, "@"),
    ):
        if ref.startswith(prefix) and SLACK_ID.match(ref.removeprefix(prefix)):
            ident = ref.removeprefix(prefix)
            return Mention(kind, ident, sign + (label or ident).removeprefix(sign))
    return None


def unescape(text: str) -> str:
    """Slack's HTML escaping undone: `&lt;` `&gt;` `&amp;` back to what was typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def typed(text: str) -> str:
    """Command text as the user typed it: entities decoded, each Slack token shown as it read
    (`@dana`, `#general`, `@oncall`, `@here`, a link's label or address)."""
    protected, found = protect(text)
    return restore(protected, found)


def protect(text: str) -> tuple[str, list[str]]:
    """The text with entities decoded and each Slack token replaced by a placeholder free of
    spaces and quotes (so splitting cannot break one); and the tokens, in order."""
    found: list[str] = []
    out: list[str] = []
    last = 0
    text = text.replace("\x00", "")
    for match in SLACK_TOKEN.finditer(text):
        out.append(unescape(text[last : match.start()]))
        out.append(f"\x00{len(found)}\x00")
        found.append(match.group(0))
        last = match.end()
    out.append(unescape(text[last:]))
    return "".join(out), found


def restore(protected: str, found: list[str]) -> str:
    """Placeholders back as their tokens read (see `typed`)."""
    return PLACEHOLDER.sub(lambda m: _reads(found[int(m.group(1))]), protected)


def mention_in(protected: str, found: list[str]) -> Mention | None:
    """The mention a protected token is (or, after `key:`, holds), if that is all it is."""
    _, colon, value = protected.partition(":")
    match = PLACEHOLDER.fullmatch(value if colon else protected)
    return parse_mention(found[int(match.group(1))]) if match else None


def _reads(token: str) -> str:
    if mention := parse_mention(token):
        return mention.label
    ref, _, label = token[1:-1].partition("|")
    if label:
        return unescape(label)
    return "@" + ref[1:] if ref.startswith("!") else unescape(ref)
