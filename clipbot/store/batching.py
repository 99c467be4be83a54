"""Group commit: durable writes that arrive together share one transaction, so one fsync.

Threads posting to channels side by side each reserve their next card durably before sending
it; one transaction (one wait for the disk) per reservation would make them queue on the disk
one at a time. Here the first caller commits at once; callers arriving while it commits queue,
and the next commit takes every write queued by then. Each caller still returns only once its
own write is on disk, and each write's outcome (its result, or its error) is its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from clipbot.store.connection import Connection, Database

T = TypeVar("T")


@dataclass
class _Write(Generic[T]):
    work: Callable[[Connection], T]
    done: bool = False
    result: T | None = None
    error: BaseException | None = field(default=None, repr=False)

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set when `work` returned


class GroupCommit:
    """Runs writes on `db`, several callers' in one durable transaction (see the module)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._turn = threading.Condition()
        self._queue: list[_Write[object]] = []
        self._committing = False
        self.commits = 0  # transactions committed so far (for tests and benchmarks)

    @property
    def queued(self) -> int:
        """Writes waiting for the next commit."""
        with self._turn:
            return len(self._queue)

    def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)`'s result, once the transaction it ran in is committed durably.

        `work` must not catch a driver's error and carry on: it runs beside other callers'
        writes, and an error in the transaction fails every write in it. Raises what the
        transaction raised (StoreError and its kinds), or what `work` raised.
        """
        job: _Write[T] = _Write(work)
        with self._turn:
            self._queue.append(job)  # type: ignore[arg-type]  # a _Write of any result
            while self._committing and not job.done:
                self._turn.wait()
            batch: list[_Write[object]] = []
            if not job.done:  # nobody is committing and this write is still queued: lead
                batch, self._queue, self._committing = self._queue, [], True
        if batch:
            try:
                self._commit(batch)
            finally:
                with self._turn:
                    self._committing = False
                    self._turn.notify_all()
        return job.outcome()

    def _commit(self, batch: list[_Write[object]]) -> None:
        try:
            with self._db.transaction() as db:
                for job in batch:
                    job.result = job.work(db)
            self.commits += 1
        except BaseException as exc:  # every write in the batch fails with it
            for job in batch:
                job.error = exc
        for job in batch:
            job.done = True
