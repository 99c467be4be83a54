"""A fake (Rhombus or Slack, from tests/fakes) served from a process of its own, on loopback as
ever, so the CPU of the benchmarked clipbot is its own and the fakes do not take its GIL."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

# A picklable module-level function run in the fake's process on the fake: fn(fake, *args).
Job = Callable[..., Any]


class Remote:
    """One fake in a child process: `api_url` (and `media_url` for Rhombus) as the fake's own,
    `call(fn, *args)` runs `fn(fake, *args)` there and answers its (picklable) result."""

    def __init__(self, kind: type[Any], **options: Any) -> None:
        """`kind`: FakeRhombus or FakeSlack; `options`: its attributes (latency, post_rate...)."""
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, kind, options), daemon=True)
        self._process.start()
        child.close()
        urls: dict[str, str] = self._answer()
        self.api_url = urls["api_url"]
        self.media_url = urls.get("media_url", "")

    def call(self, fn: Job, *args: Any) -> Any:
        self._conn.send((fn, args))
        return self._answer()

    def cpu_seconds(self) -> float:
        """CPU time the fake's process has used so far (user + system), in seconds."""
        return float(self.call(_cpu_seconds))

    def close(self) -> None:
        if self._process.is_alive():
            self._conn.send(None)
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()

    def _answer(self) -> Any:
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"the fake's process failed: {value}")
        return value


def _serve(conn: Connection, kind: type[Any], options: dict[str, Any]) -> None:
    fake = kind()
    for name, value in options.items():
        setattr(fake, name, value)
    fake.start()
    try:
        urls = {"api_url": fake.api_url}
        if hasattr(fake, "media_url"):
            urls["media_url"] = fake.media_url
        conn.send((True, urls))
        while (job := conn.recv()) is not None:
            fn, args = job
            try:
                conn.send((True, fn(fake, *args)))
            except Exception as exc:  # the bench hears of it and fails there
                conn.send((False, repr(exc)))
    finally:
        fake.stop()


def _cpu_seconds(fake: Any) -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
