"""Work in progress that a stop waits for: poll cycles and listeners (`Busy`), and the
thread pools listeners' work runs in (`ListenerPool`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Busy:
    """Counts work in progress (poll cycles, listeners) so a stop can wait for it to finish."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def task(self) -> Iterator[None]:
        done = self.begin()
        try:
            yield
        finally:
            done()

    def begin(self) -> Callable[[], None]:
        """Counts one piece of work from now on; the function (call it once) that ends it."""
        with self._idle:
            self._count += 1

        def done() -> None:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

        return done

    def wait_idle(self, timeout: float) -> bool:
        """Waits up to `timeout` seconds for nothing to be running; whether that happened."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


# Listeners' work running at once (acknowledgements do not wait for it: see
# clipbot.slack.ackfirst): the gate and work needing only the store and Slack, and apart from
# it, work waiting on Rhombus (a listing, a share link, a video, the Home tab's clips), so a hung
# or throttling Rhombus, which holds a request for over a minute, never holds up help, status,
# triage or the gate.
LISTENERS = 32
RHOMBUS_LISTENERS = 32


class ListenerPool(ThreadPoolExecutor):
    """The threads listeners' work runs in, owned by clipbot so a stop waits for that work to
    finish before the store and clients it uses are closed. Work counts in `busy` from the
    moment it is submitted: queued work was acknowledged, so a stop waits for it too."""

    def __init__(self, busy: Busy, max_workers: int = LISTENERS, name: str = "listener") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._busy = busy

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        done = self._busy.begin()

        def run() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                done()

        try:
            return super().submit(run)
        except BaseException:  # shut down: it will never run
            done()
            raise
