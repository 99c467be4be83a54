"""The fake Slack's people: `users.info` answered as Slack answers it.

A workspace where every well-formed user ID (`U…`/`W…`) is a full member unless registered
otherwise: tests name guests (`guest()`), people who are gone (`remove()`), or take the app's
`users:read` scope away (`scope_granted = False`). Malformed or removed IDs get
`user_not_found`, as Slack answers them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,20}$")
TEAM = "T0001"


@dataclass
class User:
    """The fields of Slack's user object that matter here, with Slack's names."""

    id: str
    is_restricted: bool = False  # a guest (multi-channel when not also ultra-restricted)
    is_ultra_restricted: bool = False  # a single-channel guest
    deleted: bool = False
    is_admin: bool = False
    is_bot: bool = False

    def to_json(self) -> dict[str, Any]:
        name = self.id.lower()
        return {
            "id": self.id,
            "team_id": TEAM,
            "name": name,
            "deleted": self.deleted,
            "real_name": f"Person {self.id}",
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {"real_name": f"Person {self.id}", "display_name": name, "team": TEAM},
        }


@dataclass
class Directory:
    """Who is in the fake workspace, and whether the app may ask (`users:read`)."""

    people: dict[str, User] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    scope_granted: bool = True

    def guest(self, user_id: str, *, single_channel: bool = False) -> User:
        """Registers a multi-channel guest (or, with single_channel, a single-channel one)."""
        user = User(user_id, is_restricted=True, is_ultra_restricted=single_channel)
        self.people[user_id] = user
        return user

    def remove(self, user_id: str) -> None:
        """Makes `user_id` unknown to Slack (`user_not_found`)."""
        self.removed.add(user_id)

    def info(self, args: dict[str, Any]) -> dict[str, Any]:
        """`users.info`: the user object, or Slack's error for the call."""
        if not self.scope_granted:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "users:read",
                "provided": "commands,chat:write",
            }
        user_id = str(args.get("user") or "")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        if not USER_ID.match(user_id) or user_id in self.removed:
            return {"ok": False, "error": "user_not_found"}
        user = self.people.get(user_id) or User(user_id)
        return {"ok": True, "user": user.to_json()}
