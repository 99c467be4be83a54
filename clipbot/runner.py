"""Starting the bot: wired up in the notifications work."""

from __future__ import annotations

import sys

from clipbot.config import Settings


def run_bot(settings: Settings) -> int:
    """Not built yet: says so instead of pretending to run."""
    print("clipbot: the Slack app and poller are not built yet", file=sys.stderr)
    return 1


def poll_once_command(settings: Settings, *, dry_run: bool) -> int:
    print("clipbot: the poller is not built yet", file=sys.stderr)
    return 1
