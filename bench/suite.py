"""The benchmarks, their full sizes (scaled to keep `make bench` near 10 minutes on 2 shared
cores) and toy sizes (the smoke test)."""

from __future__ import annotations

import importlib
from typing import Any

from bench.report import Result

# name -> (module, full-size arguments, toy-size arguments)
BENCHMARKS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "idle": ("bench.idle", {"cycles": 200}, {"cycles": 3}),
    "catchup": (
        "bench.catchup",
        {"clips": 10_000, "channels": 10, "rate": 50.0},
        {"clips": 20, "channels": 2, "rate": 50.0},
    ),
    "fanout": ("bench.posting:fan_out", {"channels": 200}, {"channels": 4}),
    "freshness": ("bench.freshness", {"clips": 50, "spacing": 1.0}, {"clips": 2, "spacing": 0.2}),
    "commands": ("bench.commands", {"commands": 200}, {"commands": 3, "solo": 1}),
    "memory": (
        "bench.memory",
        {"cycles": 10_000, "checkpoint": 1_000},
        {"cycles": 20, "checkpoint": 10},
    ),
    "replicas": ("bench.replicas", {}, {"clips": 20, "replicas": (1,), "failover": False}),
    "micro": ("bench.micro", {}, None),
}


def run(name: str, quick: bool = False) -> Result:
    """Runs one benchmark in this process; its Result."""
    target, full, toy = BENCHMARKS[name]
    module, _, function = target.partition(":")
    bench = getattr(importlib.import_module(module), function or "run")
    return bench(**((toy or {}) if quick else full))  # type: ignore[no-any-return]
