"""Quiet hours and mutes: pure filters on what a channel wants, judged by a clip's createdAtMs.

A `Schedule` (`subscribe … hours:18:00-07:00 days:mon-fri`) keeps only clips saved inside its
window, read in CLIPBOT_TIMEZONE's wall-clock time (so daylight-saving changes are followed). A
window that crosses midnight belongs to the day it starts on: `hours:18:00-07:00 days:mon-fri`
runs from Monday 18:00 to Saturday 07:00. A `Mute` holds back one camera's clips saved between
its start and end; held clips are counted, never posted later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from clipbot.records import Clip

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ALL_DAYS = frozenset(range(7))
WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
MAX_MUTE_MS = 7 * 86_400_000


class ScheduleError(ValueError):
    """`hours:` or `days:` text that is not a window or a set of days; says which and why."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a subscription takes clips: minutes after local midnight [start, end), on `days`
    (0 = Monday) — the day a window starts on; start > end crosses midnight; None: all day."""

    start_min: int | None = None
    end_min: int | None = None
    days: frozenset[int] = ALL_DAYS

    def keeps(self, created_at_ms: int, zone: tzinfo) -> bool:
        """Whether a clip saved at `created_at_ms` (epoch ms) falls inside, in `zone`."""
        local = datetime.fromtimestamp(created_at_ms / 1000, zone)
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start_min is None or self.end_min is None:
            return day in self.days
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min and day in self.days
        if minute >= self.start_min:
            return day in self.days
        return minute < self.end_min and (day - 1) % 7 in self.days

    @property
    def hours_text(self) -> str | None:
        """The window as typed back: `18:00-07:00` (None: all day)."""
        if self.start_min is None or self.end_min is None:
            return None
        return f"{_clock(self.start_min)}-{_clock(self.end_min)}"

    @property
    def days_text(self) -> str | None:
        """The days as stored: `mon,tue,wed` (None: every day)."""
        if self.days == ALL_DAYS:
            return None
        return ",".join(DAY_NAMES[d] for d in sorted(self.days))

    def describe(self) -> str:
        """In words: `between 18:00 and 07:00 (overnight), Monday to Friday`."""
        parts = []
        if self.start_min is not None and self.end_min is not None:
            overnight = " (overnight)" if self.start_min > self.end_min else ""
            parts.append(f"between {_clock(self.start_min)} and {_clock(self.end_min)}{overnight}")
        if self.days != ALL_DAYS:
            parts.append(days_in_words(self.days))
        return ", ".join(parts)


def schedule(hours: str | None, days: str | None) -> Schedule | None:
    """The schedule of `hours:` and `days:` texts (either may be None); None when neither is
    given. Raises ScheduleError naming the bad one."""
    if hours is None and days is None:
        return None
    start, end = parse_hours(hours) if hours is not None else (None, None)
    return Schedule(start, end, parse_days(days) if days is not None else ALL_DAYS)


def parse_hours(text: str) -> tuple[int, int]:
    """`18:00-07:00` as minutes after midnight (start, end); `24:00` may end a window."""
    match = WINDOW.match(text.strip())
    numbers = [int(g) for g in match.groups()] if match else []
    if not match or not _clock_ok(*numbers[:2]) or not _clock_ok(*numbers[2:], end=True):
        raise ScheduleError(
            f"`hours:{_shown(text)}` is not a time window; use HH:MM-HH:MM in 24-hour time, "
            "like hours:18:00-07:00 (a window may cross midnight)."
        )
    start, end = numbers[0] * 60 + numbers[1], numbers[2] * 60 + numbers[3]
    if start == end % 1440:
        raise ScheduleError(
            f"`hours:{_shown(text)}` starts and ends at the same time; leave hours: out to "
            "take clips all day."
        )
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `fri-mon` (a range may wrap past Sunday), full names too."""
    days: set[int] = set()
    for part in text.casefold().split(","):
        first, dash, last = part.strip().partition("-")
        a, b = _day(first, text), _day(last, text) if dash else None
        days.update(range(a, a + (b - a) % 7 + 1) if b is not None else (a,))
    return frozenset(d % 7 for d in days)


def days_in_words(days: frozenset[int]) -> str:
    """`Monday to Friday`, `Saturday and Sunday`, `Monday, Wednesday and Friday`."""
    if days == ALL_DAYS:
        return "every day"
    runs = _runs(sorted(days))
    words = [
        DAY_WORDS[r[0]] if len(r) == 1 else f"{DAY_WORDS[r[0]]} to {DAY_WORDS[r[-1]]}" for r in runs
    ]
    if len(runs) == 1 and len(runs[0]) == 2:
        return f"{DAY_WORDS[runs[0][0]]} and {DAY_WORDS[runs[0][1]]}"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True, slots=True)
class Mute:
    """A channel's pause on cameras whose name contains `camera`: clips saved in
    [start_ms, until_ms) are held back (counted, not posted). Epoch ms, this machine's clock."""

    id: int
    channel_id: str
    camera: str
    start_ms: int
    until_ms: int
    created_by: str

    def holds(self, created_at_ms: int, camera_names: Iterable[str]) -> bool:
        """Whether a clip saved at `created_at_ms` from these cameras is held back."""
        if not self.start_ms <= created_at_ms < self.until_ms:
            return False
        return any(self.camera.casefold() in name.casefold() for name in camera_names)

    def active(self, now_ms: int) -> bool:
        return self.start_ms <= now_ms < self.until_ms


def holding(mutes: Iterable[Mute], created_at_ms: int, camera_names: Iterable[str]) -> Mute | None:
    """The first of `mutes` that holds back a clip saved then from these cameras, if any."""
    names = tuple(camera_names)
    return next((m for m in mutes if m.holds(created_at_ms, names)), None)


def sift(
    channel_id: str,
    schedule: Schedule | None,
    clips: Iterable[Clip],
    camera_names: Mapping[str, tuple[str, ...]],
    zone: tzinfo,
    mutes: Iterable[Mute],
) -> tuple[list[Clip], list[tuple[Mute, Clip]]]:
    """Of the clips a channel wants, those its quiet hours let through, and those one of its
    mutes holds back (to be counted). Clips outside the schedule are simply not wanted."""
    mine = [m for m in mutes if m.channel_id == channel_id]
    keep: list[Clip] = []
    held: list[tuple[Mute, Clip]] = []
    for clip in clips:
        if schedule is not None and not schedule.keeps(clip.created_at_ms, zone):
            continue
        mute = holding(mine, clip.created_at_ms, camera_names.get(clip.uuid, ()))
        if mute is None:
            keep.append(clip)
        else:
            held.append((mute, clip))
    return keep, held


def _day(word: str, text: str) -> int:
    word = word.strip()
    for number, (short, full) in enumerate(zip(DAY_NAMES, DAY_WORDS, strict=True)):
        if word and (word == short or word == full.casefold()):
            return number
    raise ScheduleError(
        f"`days:{_shown(text)}` is not a set of days; use day names like days:mon-fri or "
        "days:sat,sun."
    )


def _runs(days: list[int]) -> list[list[int]]:
    """Consecutive days grouped, Sunday running on into Monday: [[0, 1, 2], [4]]."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    if len(runs) > 1 and runs[-1][-1] == 6 and runs[0][0] == 0:
        runs[0] = runs.pop() + runs[0]
    return runs


def _clock_ok(hours: int, minutes: int, *, end: bool = False) -> bool:
    return minutes < 60 and (hours < 24 or (end and hours == 24 and minutes == 0))


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _shown(text: str) -> str:
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:39] + "…"
