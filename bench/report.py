"""Figures of one benchmark against its target, and RESULTS.md for the whole run."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One measured figure: what it is, its value and unit, and what it is held against."""

    name: str
    value: float
    unit: str
    target: str = ""  # what it should be (e.g. "< 5 ms"), empty when just reported
    floor: str = ""  # the floor or baseline it is compared with, in words
    ratio: float | None = None  # value / floor (or baseline / value for speed-ups), see `name`
    met: bool | None = None  # None: no target

    def row(self) -> str:
        ratio = "" if self.ratio is None else f"{self.ratio:.2f}×"
        met = {True: "met", False: "**missed**", None: ""}[self.met]
        value = f"{self.value:,.2f}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        cells = [self.name, f"{value} {self.unit}", self.target, self.floor, ratio, met]
        return "| " + " | ".join(cells) + " |"


@dataclass
class Result:
    """A benchmark's outcome: figures, and notes (what was scaled, assumed, or why a miss)."""

    number: int
    title: str
    setup: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        ratio = "" if figure.ratio is None else f"  ratio {figure.ratio:.2f}"
        target = f"  target {figure.target}" if figure.target else ""
        floor = f"  floor/baseline {figure.floor}" if figure.floor else ""
        verdict = {True: "  MET", False: "  MISSED", None: ""}[figure.met]
        print(f"  {figure.name}: {figure.value:,.2f} {figure.unit}{target}{floor}{ratio}{verdict}")
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}")

    def markdown(self) -> str:
        lines = [f"## {self.number}. {self.title}", "", self.setup, ""]
        lines += [
            "| figure | value | target | floor / baseline | ratio | |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f.row() for f in self.figures]
        lines += [""] + [f"- {n}" for n in self.notes] + ([""] if self.notes else [])
        lines.append(f"_{self.seconds:.0f} s to run._")
        return "\n".join(lines) + "\n"


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0-100) of `samples`, nearest-rank."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def machine() -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; {os.cpu_count()} CPUs (`nproc`: {len(os.sched_getaffinity(0))}), "
        f"load average {os.getloadavg()[0]:.1f} at the start; Python {platform.python_version()} "
        f"({sys.implementation.name}); {platform.system()} {platform.release()}"
    )


def write(path: Path, results: list[Result], header: str) -> None:
    body = "\n".join(r.markdown() for r in sorted(results, key=lambda r: r.number))
    path.write_text(header + "\n" + body)
