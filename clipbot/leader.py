"""Which replica leads: the one that polls, sends reminders and posts the daily summaries.

The lease is one row in the store (see `Store.claim_lease`): the leader renews it every third
of its length; a replica that dies, hangs or loses the database stops renewing, and another
claims it once it has expired, by the database's clock. The leader also stops trusting its
lease by its own monotonic clock, so one that wakes from a hang does not post on a lease that
has moved on. On SQLite one process owns the file, so it always leads.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from enum import StrEnum

from clipbot.store import Store, StoreError

log = logging.getLogger(__name__)


class Role(StrEnum):
    """What this replica is doing now, for the log, /clips status and metrics."""

    LEADER = "leader"
    FOLLOWER = "follower"
    STORE_DOWN = "database unavailable"


def replica_name() -> str:
    """A name for this process, unique across replicas and restarts: host, pid, random."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leadership:
    """Claims and renews the lease; says whether this replica may do the leader's work now.

    `lease_s` is the lease's length in seconds: a dead leader is replaced within
    `lease_s` plus one renewal interval (`lease_s / 3`).
    """

    def __init__(
        self,
        store: Store,
        *,
        lease_s: float,
        name: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_elected: Callable[[], object] = lambda: None,
    ) -> None:
        self.store = store
        self.lease_s = lease_s
        self.name = name or replica_name()
        self._monotonic = monotonic
        self.on_elected = on_elected  # run when this replica becomes the leader
        self._valid_until = 0.0
        self._role = Role.FOLLOWER
        self._lock = threading.Lock()

    @property
    def renew_every_s(self) -> float:
        return self.lease_s / 3

    @property
    def is_leader(self) -> bool:
        """True while the lease is held and, by this process's own clock, not yet run out."""
        return self._role is Role.LEADER and self._monotonic() < self._valid_until

    @property
    def role(self) -> Role:
        if self._role is Role.LEADER and not self.is_leader:
            return Role.FOLLOWER
        return self._role

    def renew(self) -> bool:
        """Claims or renews the lease once; whether this replica leads now."""
        with self._lock:
            asked_at = self._monotonic()
            try:
                held = self.store.claim_lease(self.name, int(self.lease_s * 1000))
            except StoreError as exc:
                self._become(Role.STORE_DOWN, f"the database is unavailable ({exc})")
                return False
            if held:
                # The database's expiry is at least lease_s after we asked: trust it until then.
                self._valid_until = asked_at + self.lease_s
            elected = held and self._role is not Role.LEADER
            self._become(Role.LEADER if held else Role.FOLLOWER)
        if elected:
            self.on_elected()
        return held

    def resign(self) -> None:
        """Gives the lease up at a clean stop, so another replica takes over at once."""
        with self._lock:
            was_leader = self._role is Role.LEADER
            self._role, self._valid_until = Role.FOLLOWER, 0.0
        if was_leader:
            try:
                self.store.release_lease(self.name)
            except StoreError as exc:
                log.warning("could not give up the lease (%s); it runs out by itself", exc)

    def only(self, job: Callable[[], object]) -> Callable[[], object]:
        """`job`, run only while this replica leads."""

        def run() -> object:
            return job() if self.is_leader else None

        return run

    def _become(self, role: Role, why: str | None = None) -> None:
        if role is self._role:
            return
        was, self._role = self._role, role
        if role is Role.LEADER:
            log.info("replica %s is now the leader: it polls and sends reminders", self.name)
        elif role is Role.STORE_DOWN:
            log.error("replica %s stops polling: %s", self.name, why)
        elif was is Role.STORE_DOWN:
            log.info("replica %s: the database is back; following", self.name)
        else:
            log.warning("replica %s lost the lease: another replica leads now", self.name)
