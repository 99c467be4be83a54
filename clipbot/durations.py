"""Durations as `/clips` and `clipbot audit --since` take them: `90m`, `24h`, `7d` (also `s`
and `w`), and the range each option allows, said the way users type it."""

from __future__ import annotations

import re

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
MIN_DURATION_MS = UNIT_MS["s"]  # the shortest any option takes
MAX_DURATION_MS = 366 * UNIT_MS["d"]  # the longest `since:`, `min:`, report and audit take


def read_duration(text: str) -> int | None:
    """`90m` → 5_400_000: a number and a unit (any number of digits, 0 too) in milliseconds;
    None when the text is not a number and a unit at all."""
    match = DURATION.match(text.strip().casefold())
    if match is None:
        return None
    return int(match.group(1)) * UNIT_MS[match.group(2)]


def short_text(ms: int) -> str:
    """A whole duration the way it is typed, in its largest exact unit: `1s`, `90m`, `24h`,
    `366d`."""
    for unit in ("d", "h", "m"):
        # A day is said in hours: `24h`, as a window's upper end is usually typed.
        if ms % UNIT_MS[unit] == 0 and (unit != "d" or ms > UNIT_MS["d"]):
            return f"{ms // UNIT_MS[unit]}{unit}"
    return f"{max(1, ms // 1000)}s"


def range_text(low_ms: int, high_ms: int) -> str:
    """The bounds in words: `from 1s to 366d`."""
    return f"from {short_text(low_ms)} to {short_text(high_ms)}"
