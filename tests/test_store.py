"""The store on both backends: the same suite runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from pathlib import Path

import pytest

from clipbot import schema
from clipbot.quiet import Mute, Schedule
from clipbot.records import Clip
from clipbot.state import (
    CLAIMED,
    OPEN,
    RESOLVED,
    SUMMARY_POSTED,
    SUMMARY_RESERVED,
    AuditEntry,
    AuditKind,
    Card,
    CardKind,
    Health,
    PollOutcome,
    Subscription,
    SummaryRecord,
    ThreadReply,
    TriageEvent,
    VideoFile,
)
from clipbot.store import (
    SqliteStore,
    Store,
    StoreConflict,
    StoreOpenError,
    StoreUnavailable,
    open_store,
)
from clipbot.store.codec import clip_from_text, clip_to_text
from clipbot.store.postgres import PostgresStore

SUB = Subscription("C1", "T1", "U1", 10, start_ms=5, start_uuids=("A",), camera="dock")
CLIP = Clip(
    uuid="A",
    title="Back door",
    description="someone at the door",
    created_at_ms=1_764_000_000_000,
    timestamp_ms=1_763_999_990_000,
    duration_sec=30,
    status="RENDERING",
    camera_ids=("CAM1", "CAM2"),
    user_uuid="USER1",
    visibility="PRIVATE",
    source_alert_uuid="ALERT1",
    is_monitoring_clip=True,
    thumbnail_region="us-west-2",
    thumbnail_location_v2="thumb/A",
    clip_region="us-west-2",
    clip_location_v2="clip/A",
    byte_count=12_345_678,
)
CARD = Card(
    clip=CLIP,
    channel_id="C1",
    posted_at_ms=1_764_000_100_000,
    camera_names=("Dock", "Yard"),
    saved_by="Ann",
    thumbnail_file_id="F1",
)

Opener = Callable[[], Store]


@pytest.fixture
def opener(store_url: str) -> Iterator[Opener]:
    """Opens the store of one database (a new connection each call), on each backend."""
    opened: list[Store] = []

    def open_() -> Store:
        opened.append(open_store(store_url))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Opener) -> Store:
    return opener()


def test_reopen_keeps_data(opener: Opener) -> None:
    """Closing and reopening keeps subscriptions and position, at the same version."""
    first = opener()
    first.subscribe(SUB)
    first.advance(42)
    first.close()
    again = opener()
    assert (again.subscriptions(), again.position(), again.schema_version) == (
        [SUB],
        42,
        len(schema.MIGRATIONS),
    )


def test_upgrade_runs_only_new_migrations(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later release's migration runs once on an existing database, keeping its rows."""
    opener().subscribe(SUB)
    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        (*schema.MIGRATIONS, "ALTER TABLE subscriptions ADD COLUMN label TEXT"),
    )
    new = opener()
    assert (new.schema_version, new.subscriptions()) == (len(schema.MIGRATIONS), [SUB])
    assert opener().schema_version == len(schema.MIGRATIONS)


def test_position_never_moves_back(store: Store) -> None:
    """advance() only moves the feed position forward."""
    assert store.position() is None
    store.advance(100)
    store.advance(50)
    assert store.position() == 100


def test_subscribe_replaces_and_returns_previous(store: Store) -> None:
    """A channel has one subscription; subscribing again returns the one it replaced."""
    assert store.subscribe(SUB) is None
    newer = replace(SUB, camera=None, include_private=True, min_duration_sec=None)
    assert store.subscribe(newer) == SUB
    store.mark_broken("C1", "channel_not_found")
    assert store.subscriptions("T1") == [replace(newer, broken="channel_not_found")]
    assert store.unsubscribe("C1") == replace(newer, broken="channel_not_found")
    assert (store.subscriptions(), store.unsubscribe("C1")) == ([], None)


def test_card_round_trip(store: Store) -> None:
    """A reserved and confirmed card reads back whole, clip facts included."""
    store.reserve([CARD])
    assert store.in_doubt() == [CARD]
    store.confirm("C1", ["A"], "1764000100.000200", thumbnail_pending=True)
    stored = replace(CARD, ts="1764000100.000200", thumbnail_pending=True)
    assert store.card("A", "C1") == stored
    assert (store.in_doubt(), store.unfinished(0), store.thumbnails_pending(0)) == (
        [],
        [stored],
        [stored],
    )
    assert (store.cards(), store.cards("C1"), store.cards("C2")) == ([stored], [stored], [])
    assert store.posted_uuids("C1", ["A", "B"]) == {"A"}
    assert (store.posted_since(0), store.posted_since(CARD.posted_at_ms + 1)) == (1, 0)


def test_a_clip_is_reserved_once_per_channel(store: Store) -> None:
    """A second reservation of the same clip in a channel is refused, whole batch included."""
    store.reserve([CARD])
    other = replace(CARD, clip=replace(CLIP, uuid="B"))
    with pytest.raises(StoreConflict):
        store.reserve([other, CARD])
    assert store.posted_uuids("C1", ["A", "B"]) == {"A"}
    store.release("C1", ["A"])
    store.reserve([CARD, other])
    assert store.posted_uuids("C1", ["A", "B"]) == {"A", "B"}


def test_release_keeps_confirmed_cards(store: Store) -> None:
    """release() forgets only reservations without a message."""
    store.reserve([CARD])
    store.confirm("C1", ["A"], "1.000001")
    store.release("C1", ["A"])
    assert store.posted_uuids("C1", ["A"]) == {"A"}


def test_last_ts_before_doubt(store: Store) -> None:
    """The newest confirmed message reserved before the first card in doubt, by Slack's clock."""
    cards = [replace(CARD, clip=replace(CLIP, uuid=u)) for u in ("A", "B", "C", "D")]
    for card, ts in zip(cards[:2], ("1764000100.000900", "1764000100.001000"), strict=True):
        store.reserve([card])
        store.confirm("C1", [card.clip.uuid], ts)
    store.reserve([cards[2]])  # in doubt
    store.reserve([cards[3]])
    store.confirm("C1", ["D"], "1764000200.000001")
    assert store.last_ts_before_doubt("C1") == "1764000100.001000"
    assert store.last_ts_before_doubt("C2") is None


def test_transition_is_versioned(store: Store) -> None:
    """Two presses from the same version of a card: the first wins, the second gets None."""
    store.reserve([CARD])
    store.confirm("C1", ["A"], "1.000001")
    seen = store.card("A", "C1")
    assert seen is not None
    first = store.transition(seen, state=CLAIMED, user="U2", at_ms=7, action="claim", note=None)
    second = store.transition(seen, state=RESOLVED, user="U3", at_ms=8, action="resolve", note="x")
    assert second is None
    assert first == store.card("A", "C1")
    assert (first.state, first.owner, first.version) == (CLAIMED, "U2", 1)
    assert store.events("A", "C1") == [TriageEvent("claim", "U2", 7, OPEN, CLAIMED, None)]
    assert store.open_cards("C1") == [first]


def test_presses_race_across_connections(opener: Opener) -> None:
    """Presses on one card through separate connections (replicas): exactly one wins."""
    setup = opener()
    setup.reserve([CARD])
    setup.confirm("C1", ["A"], "1.000001")
    seen = setup.card("A", "C1")
    assert seen is not None
    stores = [opener() for _ in range(4)]
    start = threading.Barrier(len(stores))
    results: list[Card | None] = []

    def press(store: Store, user: str) -> None:
        start.wait()
        results.append(
            store.transition(seen, state=CLAIMED, user=user, at_ms=1, action="claim", note=None)
        )

    threads = [threading.Thread(target=press, args=(s, f"U{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert [e.user_id for e in setup.events("A", "C1")] == [winners[0].owner]


def test_one_reminder(store: Store) -> None:
    """Cards due a reminder are open and old enough; each is marked reminded once."""
    store.reserve([CARD, replace(CARD, clip=replace(CLIP, uuid="D"), kind=CardKind.DIGEST)])
    store.confirm("C1", ["A", "D"], "1.000001")
    (due,) = store.reminders_due(CARD.posted_at_ms)
    assert store.reminders_due(CARD.posted_at_ms - 1) == []
    assert (store.mark_reminded(due), store.mark_reminded(due)) == (True, False)
    assert store.reminders_due(CARD.posted_at_ms) == []


def test_health(store: Store) -> None:
    """Health is what the cycles wrote: outcome, failures in a row, last success and error,
    the position, counts, odd records and broken channels."""
    store.subscribe(SUB)
    store.mark_broken("C1", "is_archived")
    store.advance(9)
    assert store.health(0).last_outcome is None
    store.record_success(10)
    store.record_error(11, "Rhombus down")
    store.record_error(11, "Rhombus down")
    store.note_odd_records(["ODD-1", "ODD-2"], 11)
    store.note_odd_records(["ODD-2", "ODD-3"], 12)  # ODD-2 seen again (after a restart, say)
    store.record_progress(12)
    assert store.health(0) == Health(
        last_outcome=PollOutcome.FAILED,
        consecutive_failures=2,
        last_success_ms=10,
        last_error="Rhombus down",
        last_error_ms=11,
        position_ms=9,
        skipped_records=3,
        posted_since=0,
        posted_total=0,
        broken=(replace(SUB, broken="is_archived"),),
        last_progress_ms=12,
    )
    store.record_success(11)
    healthy = store.health(0)
    assert (healthy.last_outcome, healthy.consecutive_failures, healthy.failing) == (
        PollOutcome.OK,
        0,
        False,
    )


def test_videos(store: Store) -> None:
    """A recorded upload reads back whole; the first one recorded for a clip is kept."""
    first = VideoFile("A", "F1", "https://slack.test/F1", 1_000, "C1", "1.2", "U1", 5)
    assert store.video("A") is None
    store.record_video(first)
    store.record_video(replace(first, file_id="F2", channel_id="C2"))
    assert (store.video("A"), store.video("B")) == (first, None)


def test_video_fetch_claims(store: Store) -> None:
    """One claim at a time per clip, across connections; a stale one may be taken over."""
    assert store.claim_video_fetch("A", 1_000, stale_before_ms=0)
    assert not store.claim_video_fetch("A", 2_000, stale_before_ms=500)
    assert store.claim_video_fetch("B", 2_000, stale_before_ms=500)
    assert store.claim_video_fetch("A", 3_000, stale_before_ms=1_001)  # the first one died
    store.release_video_fetch("A")
    assert store.claim_video_fetch("A", 4_000, stale_before_ms=0)


def test_mutes(store: Store) -> None:
    """Mutes: muting again moves the same mute's end, unmute ends running ones at a time, and a
    held clip counts once however often it is noted."""
    first = store.mute("C1", "dock", 100, 1_000, "U1")
    assert first == Mute(first.id, "C1", "dock", 100, 1_000, "U1")
    again = store.mute("C1", "DOCK", 200, 5_000, "U2")
    door = store.mute("C1", "door", 200, 5_000, "U2")
    assert (again.id, again.until_ms, again.camera, door.id != first.id) == (
        first.id,
        5_000,
        "dock",
        True,
    )
    store.hold([(first.id, "A", 150), (first.id, "B", 160)])
    store.hold([(first.id, "A", 150)])
    assert (store.held_count(first.id), store.held_count(door.id)) == (2, 0)
    assert store.held_back("C1", ["A", "C"]) == {"A"}
    assert (store.held_back("C2", ["A"]), store.held_back("C1", [])) == (set(), set())
    assert store.unmute("C1", "Dock", 300) == [replace(again, until_ms=300)]
    assert store.mutes(300) == [door]
    assert store.mutes(0, channel_id="C2") == []
    assert [m.id for m in store.unmute("C1", None, 400)] == [door.id]
    assert store.unmute("C1", None, 500) == []


def test_subscription_schedule_round_trip(store: Store) -> None:
    """A subscription's quiet hours are kept and read back as the same schedule."""
    night = replace(SUB, schedule=Schedule(1080, 420, frozenset({0, 1, 2, 3, 4})))
    store.subscribe(night)
    assert store.subscription("C1") == night


def test_clip_codec_names_every_field() -> None:
    """The stored form names each Clip field; a new or renamed field must be added on purpose."""
    assert clip_from_text(clip_to_text(CLIP)) == CLIP
    assert all(getattr(CLIP, f.name) != f.default for f in fields(Clip)), "CLIP sets every field"
    assert clip_from_text('{"uuid": "OLD"}') == Clip(uuid="OLD")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("missing/s.db", "its folder does not exist"),
        ("garbage.db", "not a SQLite database"),
        ("folder", "it is a folder"),
    ],
)
@pytest.mark.parametrize("owner", [True, False])
def test_unopenable_sqlite(tmp_path: Path, name: str, reason: str, owner: bool) -> None:
    """A SQLite file that cannot be opened is a StoreOpenError naming it and saying why."""
    (tmp_path / "garbage.db").write_bytes(b"this is not a database, just some text" * 100)
    (tmp_path / "folder").mkdir()
    with pytest.raises(StoreOpenError) as caught:
        SqliteStore(str(tmp_path / name), owner=owner)
    assert str(caught.value) == f"cannot open the SQLite database {tmp_path / name}: {reason}"


def test_one_owner_per_sqlite_file(tmp_path: Path) -> None:
    """A second owner of the same file is refused at once; the first keeps working, readers
    are not owners, and closing the first lets a new owner in."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = open_store(url, owner=True)
    with pytest.raises(StoreOpenError) as caught:
        open_store(url, owner=True)
    assert str(caught.value) == (
        f"another clipbot is using {tmp_path / 's.db'}; stop it first"
        " (several replicas need PostgreSQL)"
    )
    first.subscribe(SUB)
    reader = open_store(url)
    assert reader.subscriptions() == [SUB]
    reader.close()
    first.close()
    open_store(url, owner=True).close()


def test_version_2_position_becomes_each_subscriptions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upgrading from one global feed position gives every subscription that position."""
    path = str(tmp_path / "s.db")
    version = next(i for i, m in enumerate(schema.MIGRATIONS) if "position_ms INTEGER;" in m)
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
    old = SqliteStore(path)
    old._db._db.execute(  # type: ignore[attr-defined]  # a row as the old release wrote it
        "INSERT INTO subscriptions (channel_id, team_id, created_by, created_at_ms, start_ms)"
        " VALUES ('C1', 'T1', 'U1', 10, 5)"
    )
    old.advance(42)
    old.close()
    monkeypatch.undo()
    (sub,) = SqliteStore(path).subscriptions()
    assert (sub.position_ms, sub.since_ms, sub.failures) == (42, 42, 0)


def test_refusals_mark_broken_at_the_limit(store: Store) -> None:
    """Refusals in a row are counted per channel; at the limit it is broken; subscribing
    again clears both."""
    store.subscribe(SUB)
    assert [store.record_refusal("C1", "restricted_action", 3) for _ in range(2)] == [False] * 2
    store.clear_refusals("C1")
    assert [store.record_refusal("C1", "restricted_action", 3) for _ in range(3)] == [
        False,
        False,
        True,
    ]
    assert store.subscription("C1") == replace(SUB, broken="restricted_action", failures=3)
    store.subscribe(SUB)
    assert store.subscription("C1") == SUB


def test_subscription_positions(store: Store) -> None:
    """Each subscription's position moves forward only, independently of the others."""
    store.subscribe(SUB)
    store.subscribe(replace(SUB, channel_id="C2"))
    store.advance_subscription("C1", 100)
    store.advance_subscription("C1", 50)
    assert [(s.channel_id, s.position_ms) for s in store.subscriptions()] == [
        ("C1", 100),
        ("C2", None),
    ]


def test_thread_replies(store: Store) -> None:
    """A reply is reserved once per key, in doubt until confirmed, and released only unsent."""
    line = ThreadReply("press:C1:A:1", "C1", "1.000100", "claimed", 7)
    first, again = store.reserve_reply(line, claim_ms=60_000), store.reserve_reply(line, claim_ms=1)
    assert (first, again) == (True, False)
    other = ThreadReply("remind:C1:A", "C1", "1.000100", "ping", 8)
    store.reserve_reply(other, claim_ms=60_000)
    assert store.replies_in_doubt() == [line, other]
    assert store.reply_posted(line.key) is False
    store.confirm_reply(line.key, "1.000200")
    assert (store.reply_posted(line.key), store.reply_posted("never")) == (True, False)
    store.release_reply(line.key)  # confirmed: stays
    store.release_reply(other.key)
    assert (
        store.replies_in_doubt(),
        store.reserve_reply(line, claim_ms=1),
        store.reserve_reply(other, claim_ms=1),
    ) == ([], False, True)


def test_reply_claims(opener: Opener) -> None:
    """A reply being sent is claimed, for every replica (two stores on one database), until its
    claim runs out or is given back; a confirmed reply is never claimed again."""
    sender, settler = opener(), opener()
    line = ThreadReply("press:C1:A:1", "C1", "1.000100", "claimed", 7)
    assert sender.reserve_reply(line, claim_ms=60_000)
    assert settler.claim_reply(line.key, 60_000) is False  # on its way: in flight, not in doubt
    sender.unclaim_reply(line.key)  # its answer was lost: in doubt now
    assert (settler.claim_reply(line.key, 60_000), sender.claim_reply(line.key, 60_000)) == (
        True,
        False,
    )
    dead = ThreadReply("remind:C1:A", "C1", "1.000100", "ping", 8)
    assert sender.reserve_reply(dead, claim_ms=-1)  # its sender died; the claim ran out
    assert settler.claim_reply(dead.key, 60_000)
    settler.confirm_reply(dead.key, "1.000300")
    assert settler.claim_reply(dead.key, -1) is False


def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    """Several replicas opening an empty PostgreSQL database at once: one migrates, all work."""
    start = threading.Barrier(4)
    opened: list[PostgresStore] = []
    failed: list[BaseException] = []

    def open_() -> None:
        start.wait()
        try:
            opened.append(PostgresStore(postgres_url))
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=open_) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    assert [s.schema_version for s in opened] == [len(schema.MIGRATIONS)] * 4
    for s in opened:
        s.close()


def test_summaries(store: Store) -> None:
    """A channel's summary for a day is reserved once, then settled or released."""
    record = SummaryRecord("C1", "2026-11-29", SUMMARY_RESERVED, 5)
    assert (store.reserve_summary(record), store.reserve_summary(record)) == (True, False)
    assert store.summaries(SUMMARY_RESERVED) == [record]
    store.settle_summary("C1", "2026-11-29", SUMMARY_POSTED, "1.000001")
    store.release_summary("C1", "2026-11-29")  # a posted one stays
    assert store.summaries() == [replace(record, state=SUMMARY_POSTED, ts="1.000001")]
    other = SummaryRecord("C2", "2026-11-28", SUMMARY_RESERVED, 6)
    store.reserve_summary(other)
    store.release_summary("C2", "2026-11-28")
    assert store.summaries(SUMMARY_RESERVED) == []


def test_report_queries(store: Store) -> None:
    """posted_in lists a channel's confirmed cards; first_claims the first claim of each."""
    store.reserve([CARD])
    store.confirm("C1", ["A"], "1.000001")
    card = store.card("A", "C1")
    assert card is not None
    claimed = store.transition(card, state=CLAIMED, user="U2", at_ms=7, action="claim", note=None)
    assert claimed is not None
    reopened = store.transition(claimed, state=OPEN, user="U2", at_ms=8, action="reopen", note=None)
    assert reopened is not None
    store.transition(reopened, state=CLAIMED, user="U3", at_ms=9, action="claim", note=None)
    assert [c.clip.uuid for c in store.posted_in("C1", 0)] == ["A"]
    assert (store.posted_in("C1", CARD.posted_at_ms + 1), store.posted_in("C2", 0)) == ([], [])
    assert (store.first_claims("C1", 0), store.first_claims("C1", 8)) == ({"A": 7}, {"A": 9})


def test_button_state_expires(store: Store) -> None:
    """A More button's state is read back by its short key until it expires, then it is gone
    (and dropped from the table when the next one is saved)."""
    key = store.save_button_state('{"q": "größe"}', now_ms=1000, ttl_ms=500)
    assert len(key) <= 20
    assert store.button_state(key, now_ms=1500) == '{"q": "größe"}'
    assert store.button_state(key, now_ms=1501) is None
    assert store.button_state("unknown", now_ms=1000) is None
    other = store.save_button_state("x", now_ms=2000, ttl_ms=500)
    assert (store.button_state(key, now_ms=0), store.button_state(other, now_ms=2000)) == (
        None,
        "x",
    )


def test_lease(store: Store) -> None:
    """The lease has one holder until it gives it up or it runs out (the database's clock)."""
    assert (store.claim_lease("A", 60_000), store.claim_lease("B", 60_000)) == (True, False)
    assert (store.claim_lease("A", 60_000), store.lease_holder()) == (True, "A")
    store.release_lease("B")  # not B's: nothing happens
    assert store.lease_holder() == "A"
    store.release_lease("A")
    assert (store.lease_holder(), store.claim_lease("B", 1)) == (None, True)
    time.sleep(0.05)  # B's 1 ms lease has run out
    assert (store.lease_holder(), store.claim_lease("A", 60_000)) == (None, True)


def test_one_lease_holder_among_racing_replicas(opener: Opener) -> None:
    """Replicas claiming the free lease at the same moment: exactly one gets it."""
    stores = [opener() for _ in range(5)]
    start = threading.Barrier(len(stores))
    won: list[str] = []

    def claim(store: Store, name: str) -> None:
        start.wait()
        if store.claim_lease(name, 60_000):
            won.append(name)

    threads = [threading.Thread(target=claim, args=(s, f"R{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    assert stores[0].lease_holder() == won[0]


def test_audit_trail(store: Store) -> None:
    """Entries come back whole, newest first, from `since`; older ones are pruned on record."""
    old = AuditEntry(1, AuditKind.SUBSCRIBE, "U1", "C1", "all cameras")
    share = AuditEntry(
        1_764_000_000_000, AuditKind.SHARE, "U2", "C1", "Gate", "A", 1_764_086_400_000
    )
    store.record_audit(old, prune_before_ms=0)
    store.record_audit(share, prune_before_ms=0)
    assert store.audit(0) == [share, old]
    assert store.audit(2) == [share]
    store.record_audit(replace(share, kind=AuditKind.VIDEO), prune_before_ms=2)
    assert store.audit(0) == [share, replace(share, kind=AuditKind.VIDEO)]


def test_first_delivery(store: Store) -> None:
    """A delivery key is acted on once; forgotten keys may come again."""
    assert store.first_delivery("k1", 10, forget_before_ms=0) is True
    assert store.first_delivery("k1", 11, forget_before_ms=0) is False
    assert store.first_delivery("k2", 20, forget_before_ms=15) is True
    assert store.first_delivery("k1", 21, forget_before_ms=15) is True


def test_mark_shown(store: Store) -> None:
    """A picture of a card counts as shown only while it is the newest: a change since it was
    read, or a newer picture shown first, says to draw again."""
    store.reserve([CARD])
    store.confirm("C1", ["A"], "1.000001")
    read = store.card("A", "C1")
    assert read is not None and read.rev == 0
    moved = store.transition(read, state=CLAIMED, user="U2", at_ms=5, action="claim", note=None)
    assert moved is not None and moved.rev == 1
    assert store.mark_shown(read) is False  # changed since it was read
    assert store.mark_shown(moved) is True
    assert store.mark_shown(moved) is True  # the same picture twice is fine
    store.refresh(replace(moved, thumbnail_file_id="F1"))
    newer = store.card("A", "C1")
    assert newer is not None and newer.rev == 2
    assert store.mark_shown(newer) is True
    assert store.mark_shown(moved) is False  # older than what Slack shows


def test_thumbnails(store: Store) -> None:
    """A clip's Slack file is kept once; finished cards without a thumbnail are listed."""
    assert store.thumbnail("A") is None
    store.save_thumbnail("A", "F1", 5)
    store.save_thumbnail("A", "F2", 6)
    assert store.thumbnail("A") == "F1"
    done = replace(CLIP, uuid="D", status="COMPLETE")
    cards = [
        CARD,  # rendering: no thumbnail expected yet
        replace(CARD, clip=done, thumbnail_file_id=None),
        replace(CARD, clip=replace(done, uuid="S"), thumbnail_file_id="F3"),
    ]
    store.reserve(cards)
    store.confirm("C1", ["A", "D", "S"], "1.000001")
    assert [c.clip.uuid for c in store.missing_thumbnails(CARD.posted_at_ms)] == ["D"]
    assert store.missing_thumbnails(CARD.posted_at_ms + 1) == []


def test_a_quick_read_gives_up_while_sqlite_is_busy(tmp_path: Path) -> None:
    """A read given `wait_s` (as /readyz and /metrics ask) raises StoreUnavailable once that
    long has passed while another thread's transaction holds the database, instead of waiting."""
    store = SqliteStore(str(tmp_path / "s.db"))
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store._db.transaction():  # type: ignore[attr-defined]  # a long write, say
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(5)
        with pytest.raises(StoreUnavailable, match=r"busy for 0\.05s"):
            store.position(wait_s=0.05)
    finally:
        release.set()
        holder.join()
    assert store.position(wait_s=0.05) is None
    store.close()
