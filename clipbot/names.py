"""Camera and user names by uuid, from Rhombus list calls cached between refreshes."""

from __future__ import annotations

from collections.abc import Callable

# An unknown camera or user (deleted, say) fetches its whole list again at most this often.
LIST_REFRESH_S = 600


class NameCache:
    """Names by uuid from one Rhombus list call: a miss fetches the whole list again, at most
    once every LIST_REFRESH_S seconds, so an unknown uuid does not cost a call every time."""

    def __init__(self, fetch: Callable[[], dict[str, str]], monotonic: Callable[[], float]):
        self._fetch = fetch
        self._monotonic = monotonic
        self._names: dict[str, str] = {}
        self._fetched_at: float | None = None

    def get(self, uuid: str) -> str | None:
        """The name for `uuid`, or None when the list (fresh enough) does not have it."""
        now = self._monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > LIST_REFRESH_S
        if uuid not in self._names and stale:
            self._fetched_at = now  # set first: a failing call also waits its turn
            self._names.update(self._fetch())
        return self._names.get(uuid)
