"""The poller's health as lines for an operator (/clips status and the App Home): pure, from
what the last poll cycles wrote down and the time now."""

from __future__ import annotations

from collections.abc import Sequence

from clipbot.access import flag_line
from clipbot.blocks import age, cut, escape, plural, slack_date
from clipbot.slack_errors import channel_fix
from clipbot.state import Health, Subscription


def health_lines(
    health: Health,
    now_ms: int,
    poll_seconds: int,
    flagged: list[Subscription] | None = None,
    figures: Sequence[str] = (),
) -> list[str]:
    """The poller's health, for an operator at a glance: from what the last cycles wrote down
    (their outcome, failures in a row), and whether the last good one is recent. `flagged`: see
    Access.flagged; `figures`: the metrics' reading (clipbot.metrics.Figures.lines)."""
    window_ms = 3 * poll_seconds * 1000
    recent = health.last_success_ms is not None and now_ms - health.last_success_ms <= window_ms
    delivering = (
        not recent
        and health.last_progress_ms is not None
        and now_ms - health.last_progress_ms <= window_ms
    )
    if health.last_outcome is None:
        verdict = ":white_circle: No poll has run yet"
    elif health.failing or not (recent or delivering):
        verdict = ":red_circle: Not healthy"
    else:
        verdict = ":large_green_circle: Healthy"
    lines = [f"*{verdict}*"]
    if health.last_success_ms is not None:
        ago = age(now_ms - health.last_success_ms)
        lines.append(f"Last successful poll: {slack_date(health.last_success_ms)} ({ago} ago)")
    if delivering and health.last_progress_ms is not None:
        ago = age(now_ms - health.last_progress_ms)
        lines.append(f"A poll cycle is still delivering: the last card went out {ago} ago")
    elif health.last_outcome is not None and not health.failing and not recent:
        lines.append(
            f"No poll has succeeded within 3 poll intervals (polls are due every {poll_seconds}s):"
            " a poll cycle is still running, or the poller has stopped"
        )
    if health.consecutive_failures > 1:
        lines.append(f"The last {health.consecutive_failures} polls failed")
    if health.last_error:
        error = escape(cut(health.last_error, 500))
        lines.append(f"Last error: {error} ({slack_date(health.last_error_ms)})")
    position = slack_date(health.position_ms) if health.position_ms else "not started"
    lines.append(f"Feed position (last seen clip): {position}")
    lines.append(f"Clips posted today: {health.posted_since} ({health.posted_total} in all)")
    lines += figures
    if health.skipped_records:
        lines.append(f"Odd feed records skipped in all: {health.skipped_records}")
    for sub in health.broken:
        reason = sub.broken or ""
        lines.append(
            f":warning: <#{sub.channel_id}> is broken ({escape(reason)}): {channel_fix(reason)}"
        )
    for sub in health.refusing:
        lines.append(
            f":warning: <#{sub.channel_id}>: Slack refused its cards in the last"
            f" {sub.failures} poll{plural(sub.failures)}"
        )
    for sub in flagged or ():
        lines.append(f":warning: <#{sub.channel_id}>: {flag_line(sub)}")
    return lines
