"""Who may see and do what: CLIPBOT_ADMINS and CLIPBOT_SHARE, decided by pure functions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from clipbot.state import Subscription


class SharePolicy(StrEnum):
    """CLIPBOT_SHARE: who may press Share link (and Video)."""

    EVERYONE = "everyone"
    ADMINS = "admins"
    OFF = "off"  # the buttons are not shown, and a forged press is refused


def share_shown(policy: SharePolicy) -> bool:
    """Whether cards show the Share link (and Video) buttons at all."""
    return policy is not SharePolicy.OFF


def may_share(policy: SharePolicy, admins: frozenset[str], user: str) -> bool:
    """Whether `user` (a Slack user ID) may make a share link or upload a video."""
    if policy is SharePolicy.OFF:
        return False
    return policy is SharePolicy.EVERYONE or user in admins


def share_refusal(policy: SharePolicy) -> str:
    """The short ephemeral answer to a press that `may_share` refused."""
    if policy is SharePolicy.OFF:
        return (
            "Sharing clips from Slack is turned off here (CLIPBOT_SHARE=off); share it from the "
            "Rhombus console, where the card's title leads."
        )
    return (
        "Only clipbot admins may share clips from Slack here (CLIPBOT_SHARE=admins); ask one "
        "of them to press it."
    )


@dataclass(frozen=True, slots=True)
class Access:
    """The access settings in one value: admins (Slack user IDs) and the share policy."""

    admins: frozenset[str] = frozenset()
    share: SharePolicy = SharePolicy.EVERYONE

    def is_admin(self, user: str) -> bool:
        return user in self.admins

    def may_share(self, user: str) -> bool:
        return may_share(self.share, self.admins, user)

    @property
    def share_shown(self) -> bool:
        return share_shown(self.share)

    def private_approved(self, sub: Subscription) -> bool:
        """A `private:yes` subscription counts only when an admin made it."""
        return sub.created_by in self.admins

    def flagged(self, sub: Subscription) -> bool:
        """A `private:yes` subscription made by someone who is not (or no longer) an admin."""
        return sub.include_private and not self.private_approved(sub)

    def effective(self, sub: Subscription) -> Subscription:
        """What the subscription may receive: private clips only when an admin opted in."""
        return replace(sub, include_private=False) if self.flagged(sub) else sub


PRIVATE_NEEDS_ADMINS = (
    "`private:yes` posts private and role-restricted clips, so only clipbot admins may turn it "
    "on, and none are configured. Set CLIPBOT_ADMINS to the Slack user IDs allowed to, then "
    "try again."
)


def flag_line(sub: Subscription) -> str:
    """Why a flagged `private:yes` subscription gets no private clips, in a sentence."""
    return (
        f"`private:yes` was set by <@{sub.created_by}>, who is not in CLIPBOT_ADMINS: private "
        "clips are held back until an admin subscribes this channel again"
    )
