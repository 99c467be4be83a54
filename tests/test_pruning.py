"""Pruning: rows kept only for a while (ended mutes and what they held, More-button states,
delivery keys, video download claims, posted thread replies, old audit entries) are deleted by
the leader's hourly `prune` job once they cannot matter, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot import pruning
from clipbot.state import AuditEntry, AuditKind, Expired, Subscription, ThreadReply
from clipbot.store import Store, open_store
from tests.fakes.rhombus import FakeRhombus
from tests.fakes.slack import FakeSlack
from tests.world import World

NOW = 1_764_000_000_000
DAY = 86_400_000
EXPIRED = Expired(
    now_ms=NOW,
    mutes_ms=NOW - 7 * DAY,
    deliveries_ms=NOW - 3_600_000,
    video_fetches_ms=NOW - 900_000,
    replies_ms=NOW - 30 * DAY,
    audit_ms=NOW - 90 * DAY,
)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def some_of_each(store: Store, at_ms: int, tag: str) -> int:
    """One row of every kind, written at `at_ms`; the mute's id."""
    mute = store.mute("C1", f"Dock {tag}", at_ms - DAY, at_ms, "U1")
    store.hold([(mute.id, f"held-{tag}", at_ms - 1)])
    store.save_button_state(f"more {tag}", at_ms, 60_000)
    store.first_delivery(f"event-{tag}", at_ms, forget_before_ms=0)
    assert store.claim_video_fetch(f"clip-{tag}", at_ms, stale_before_ms=0)
    line = ThreadReply(f"press:C1:{tag}:1", "C1", "1.000100", "claimed", at_ms)
    store.reserve_reply(line, claim_ms=60_000)
    store.confirm_reply(line.key, "1.000200")
    store.record_audit(AuditEntry(at_ms, AuditKind.MUTE, "U1", "C1", tag), prune_before_ms=0)
    return mute.id


class TestPrune:
    def test_expired_rows_go_and_the_rest_stay(self, store: Store) -> None:
        """Rows older than their time are deleted, each counted by kind; newer ones are kept,
        and a reply not yet confirmed (in doubt) is never deleted."""
        # (the newer rows first: writing a button state drops those expired before it)
        new = some_of_each(store, NOW - 60_000, "new")
        old = some_of_each(store, NOW - 100 * DAY, "old")
        doubt = ThreadReply("remind:C1:X", "C1", "1.000100", "ping", NOW - 100 * DAY)
        store.reserve_reply(doubt, claim_ms=0)
        assert store.prune(EXPIRED) == {
            "More-button states": 1,
            "clips held by ended mutes": 1,
            "ended mutes": 1,
            "delivery keys": 1,
            "video download claims": 1,
            "thread replies": 1,
            "audit entries": 1,
        }
        assert [m.id for m in store.mutes(0)] == [new]
        assert (store.held_count(old), store.held_count(new)) == (0, 1)
        assert store.first_delivery("event-old", NOW, forget_before_ms=0) is True  # forgotten
        assert store.first_delivery("event-new", NOW, forget_before_ms=0) is False
        assert store.claim_video_fetch("clip-old", NOW, stale_before_ms=0) is True
        assert store.claim_video_fetch("clip-new", NOW, stale_before_ms=0) is False
        assert [r.key for r in store.replies_in_doubt()] == ["remind:C1:X"]
        assert store.reply_posted("press:C1:new:1") and not store.reply_posted("press:C1:old:1")
        assert [e.details for e in store.audit(0)] == ["new"]
        assert set(store.prune(EXPIRED).values()) == {0}

    def test_a_mute_a_late_read_can_reach_is_kept(self, store: Store) -> None:
        """An ended mute stays while a subscription's feed read still reaches back to it (a
        bot down for weeks reads the clips saved meanwhile: those the mute held stay held)."""
        store.subscribe(Subscription("C1", "T1", "U1", NOW - 60 * DAY, start_ms=NOW - 60 * DAY))
        store.advance_subscription("C1", NOW - 20 * DAY)
        mute = store.mute("C1", "Dock", NOW - 30 * DAY, NOW - 19 * DAY, "U1")
        gone = store.mute("C1", "Yard", NOW - 30 * DAY, NOW - 21 * DAY, "U1")
        pruned = pruning.prune(store, NOW)
        assert pruned["ended mutes"] == 1
        assert [m.id for m in store.mutes(0)] == [mute.id] and gone.id != mute.id


def test_the_leader_prunes_every_hour(
    rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
) -> None:
    """`clipbot run` schedules `prune` hourly; it does its work only on the leader."""
    world = World(rhombus, slack, tmp_path / "clipbot.db")
    try:
        job = world.bot.scheduler.get_job("prune")
        assert job is not None and job.trigger.interval.total_seconds() == 3600
        now = world.clock()
        world.store.mute("C1", "Dock", now - 9 * DAY, now - 8 * DAY, "U1")
        world.bot.leadership.resign()
        job.func()
        assert len(world.store.mutes(0)) == 1  # a follower leaves it to the leader
        assert world.bot.leadership.renew()
        job.func()
        assert world.store.mutes(0) == []
    finally:
        world.close()
