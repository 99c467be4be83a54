"""Keys of the messages this process is posting right now."""

from __future__ import annotations

import threading


class InFlight:
    """Keys of the thread replies this process is posting right now. Their reservation has no
    `ts` yet, like an interrupted one's, but they are in flight, not in doubt: `settle` (run by
    the poller while a button press or a reminder is being posted) must leave them alone, or it
    would find them missing from the thread and post them a second time."""

    def __init__(self) -> None:
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def begin(self, key: str) -> bool:
        """False when `key` is already being posted by this process."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def end(self, key: str) -> None:
        with self._lock:
            self._keys.discard(key)
