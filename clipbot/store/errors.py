"""The store's own errors: what callers catch, whichever database is behind it."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked (a bug or a broken database)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (down, restarting, network gone); try later."""


class StoreOpenError(StoreError):
    """The database at the configured URL cannot be opened or upgraded at all."""


class StoreConflict(StoreError):
    """A row that must exist once already exists: another process got there first."""
