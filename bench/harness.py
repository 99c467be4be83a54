"""The fakes and a poller wired together for benchmarks, with the fakes' latency and limits."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.remote import Remote
from tests.fakes.rhombus import FakeRhombus
from tests.fakes.slack import FakeSlack
from tests.world import World


@contextlib.contextmanager
def world(folder: str | None = None, **options: Any) -> Iterator[World]:
    """A World (store, clients, poller as `clipbot run` builds them) against fresh fakes, in a
    temporary folder (inside `folder` when given); `options` go to World (digest_threshold...)."""
    rhombus, slack = FakeRhombus().start(), FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory(dir=folder or os.environ.get("BENCH_TMP")) as tmp:
            built = World(rhombus, slack, Path(tmp) / "bench.db", **options)
            try:
                yield built
            finally:
                built.close()
    finally:
        rhombus.stop()
        slack.stop()


@contextlib.contextmanager
def remote_world(
    rhombus: dict[str, Any], slack: dict[str, Any], folder: str | None = None, **options: Any
) -> Iterator[tuple[World, Remote, Remote]]:
    """Like `world`, but the fake Rhombus and the fake Slack each serve from a process of their
    own (built with the attributes in `rhombus` and `slack`: latency, post_rate...), so this
    process's CPU is clipbot's alone: the World and the two fakes' Remotes."""
    remotes: list[Remote] = []
    try:
        remotes.append(Remote(FakeRhombus, **rhombus))
        remotes.append(Remote(FakeSlack, **slack))
        with tempfile.TemporaryDirectory(dir=folder or os.environ.get("BENCH_TMP")) as tmp:
            built = World(remotes[0], remotes[1], Path(tmp) / "bench.db", **options)  # type: ignore[arg-type]
            try:
                yield built, remotes[0], remotes[1]
            finally:
                built.close()
    finally:
        for remote in remotes:
            remote.close()


@contextlib.contextmanager
def leading(w: World) -> Iterator[None]:
    """Keeps the World's lease renewed meanwhile, as `clipbot run`'s lease job does (a cycle
    longer than the lease stops between two posts once its replica no longer leads)."""
    stop = threading.Event()
    every = w.bot.leadership.renew_every_s

    def renew() -> None:
        while not stop.wait(every):
            w.bot.leadership.renew()

    thread = threading.Thread(target=renew, name="lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class WriteCounter:
    """Counts the store's write transactions, those that wait for the disk (durable: one fsync
    each), and the rows they changed (SQLite total_changes)."""

    def __init__(self, world: World) -> None:
        database: Any = world.store._db  # type: ignore[attr-defined]
        self._db = database._db
        self.transactions = self.durable = 0
        original, lock = database.transaction, threading.Lock()

        @contextlib.contextmanager
        def counted(*, durable: bool = True) -> Iterator[Any]:
            with lock:  # posting threads write side by side
                self.transactions += 1
                self.durable += durable
            with original(durable=durable) as conn:
                yield conn

        database.transaction = counted
        self._rows0 = self._db.total_changes

    @property
    def rows(self) -> int:
        return int(self._db.total_changes - self._rows0)


# tmpfs, where a store pays no fsync (to measure what fsync costs); the usual temporary folder
# on a machine without /dev/shm.
MEMORY_DISK = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def fsync_ms(samples: int = 50) -> float:
    """Milliseconds one 4 KiB write + fsync takes in the temporary folder's file system now."""
    with tempfile.NamedTemporaryFile(dir=os.environ.get("BENCH_TMP")) as file:
        started = time.perf_counter()
        for _ in range(samples):
            os.write(file.fileno(), b"x" * 4096)
            os.fsync(file.fileno())
        return (time.perf_counter() - started) / samples * 1000
