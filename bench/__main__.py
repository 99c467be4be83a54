"""`python -m bench [NAME...] [--quick]`: runs the benchmarks (all by default), each in a fresh
process so its memory figures are its own, prints the figures and writes bench/RESULTS.md
(not with --quick or a selection, which print only)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, Result, machine, write
from bench.suite import BENCHMARKS, run

HERE = Path(__file__).parent
HEADER = """# clipbot benchmark results

Written by `make bench` (`python -m bench`): every benchmark drives the real code (the poller,
the Slack app, `clipbot run` as a process) against the loopback fakes in `tests/fakes/`, with
the latency and rate limits each one states. The fakes run in the benchmark's own process, so
CPU figures and the RSS of in-process benchmarks include them, except in catch-up, where each
fake serves from a process of its own and clipbot's figures are its own. Figures vary with the
machine and its load: compare runs on one machine. Sizes are scaled to keep the whole run near
10 minutes on 2 shared cores; each section says what it ran.

Machine: {machine}. Whole run: {seconds:.0f} s.

{summary}
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, []],
        metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="toy sizes (smoke test)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one, JSON to this file
    args = parser.parse_args()
    if args.one:
        result = run(args.names[0], args.quick)
        Path(args.one).write_text(json.dumps(dataclasses.asdict(result)))
        return 0
    where = machine()
    print(f"clipbot benchmarks — {where}")
    started = time.perf_counter()
    results = [_in_child(name, args.quick) for name in args.names or BENCHMARKS]
    seconds = time.perf_counter() - started
    print(f"all done in {seconds:.0f} s")
    if not args.names and not args.quick:
        header = HEADER.format(machine=where, seconds=seconds, summary=_summary(results))
        write(HERE / "RESULTS.md", results, header)
        print(f"wrote {HERE / 'RESULTS.md'}")
    return 0 if all(r is not None for r in results) else 1


def _in_child(name: str, quick: bool) -> Result:
    print(f"\n== {name}", flush=True)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench", name, "--one", out.name]
        started = time.perf_counter()
        finished = subprocess.run([*command, *(["--quick"] if quick else [])], env=os.environ)
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            raise SystemExit(f"benchmark {name} failed (exit {finished.returncode})")
        data = json.loads(Path(out.name).read_text())
    figures = [Figure(**f) for f in data.pop("figures")]
    return Result(**{**data, "figures": figures, "seconds": seconds})


def _summary(results: list[Result]) -> str:
    lines = ["| # | benchmark | targets met |", "|---|---|---|"]
    for r in sorted(results, key=lambda r: r.number):
        judged = [f for f in r.figures if f.met is not None]
        missed = [f.name for f in judged if not f.met]
        met = f"{len(judged) - len(missed)} of {len(judged)}"
        why = "; missed: " + ", ".join(missed) if missed else ""
        lines.append(f"| {r.number} | {r.title} | {met}{why} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
