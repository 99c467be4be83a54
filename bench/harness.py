"""The fakes and a poller wired together for benchmarks, with the fakes' latency and limits."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


class WriteCounter:
    """Counts the store's write transactions and the rows they changed (SQLite total_changes)."""

    def __init__(self, world: World) -> None:
        database: Any = world.store._db  # type: ignore[attr-defined]
        self._db = database._db
        self.transactions = 0
        original = database.transaction

        @contextlib.contextmanager
        def counted() -> Iterator[Any]:
            self.transactions += 1
            with original() as conn:
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
