"""Fault suite: the real `clipbot run`, killed again and again while a backlog drains.

About 20 SIGKILLs at random moments while two channels catch up on a backlog under Slack rate
limiting, with answers lost after Slack acted, Rhombus failing every way it can (429, 5xx,
`error: true`, bodies that are not JSON, dropped connections, a request that hangs), odd
records in the feed, one channel refusing every post, and a second clipbot started on the same
SQLite file. Then one last run drains the rest. Every clip must be in each channel exactly
once: the suite prints its figures and fails on any duplicate or loss.

Run it alone with `pytest -m fault`; it runs in CI with everything else.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from clipbot.state import Subscription
from clipbot.store import SqliteStore
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.server import Reply
from tests.fakes.slack import FakeSlack
from tests.test_run import Process, free_port

pytestmark = pytest.mark.fault

T0 = 1_764_000_000_000
KILLS = 20
BACKLOG = 30  # clips waiting when the suite starts
ARRIVING = 10  # clips saved while it runs
GOOD = ("C1", "C2")
REFUSING = "CREF"
RATELIMITED = Reply.json({"ok": False, "error": "ratelimited"}, 429, **{"Retry-After": "1"})
RHOMBUS_FAULTS = {
    "429": Reply.json(
        {"error": True, "errorMsg": "Too many requests"}, 429, **{"Retry-After": "1"}
    ),
    "503": Reply(503, b"Service Unavailable"),
    "error:true": Reply.json({"error": True, "errorMsg": "Internal error"}),
    "malformed": Reply(200, b"<html>gateway</html>", {"Content-Type": "text/html"}),
    "dropped": Reply(drop=True),
    "hang": Reply(delay=30.0),  # the process is killed while it waits
}


def odd_records(at: int) -> list[dict[str, object]]:
    """Records that cannot be placed in time or identified: skipped, counted, never posted."""
    no_time = clip("ODD-NO-TIME", at)
    no_time["createdAtMs"], no_time["_filedAtMs"] = None, at
    no_uuid = clip("ODD-NO-UUID", at + 1)
    del no_uuid["uuid"]
    return [no_time, no_uuid]


def posted(slack: FakeSlack, channel: str) -> list[str]:
    """Clip uuids of the cards in the channel, in posting order (the suite posts no digest: one
    would count as None, and its clips as lost)."""
    return [
        (m.metadata or {}).get("event_payload", {}).get("clip_uuid") for m in slack.posts(channel)
    ]


def test_sigkills_and_faults_lose_and_duplicate_nothing(
    env: dict[str, str],
    rhombus: FakeRhombus,
    slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """~20 SIGKILLs mid-drain with Slack and Rhombus faults: each clip in each channel once."""
    rng = random.Random(8)
    started = time.monotonic()
    db = tmp_path / "clipbot.db"
    store = SqliteStore(str(db))
    for channel in (*GOOD, REFUSING):
        store.subscribe(Subscription(channel, "T0001", "UADMIN", T0, start_ms=T0 - 1))
    store.close()
    slack.channel(REFUSING, error="restricted_action")
    rhombus.add(*(clip(f"K{i:03d}", T0 + i * 1000) for i in range(BACKLOG)))
    rhombus.add(*odd_records(T0 + 500))
    run_env = {
        **env,
        "CLIPBOT_POLL_SECONDS": "1",
        "CLIPBOT_REMIND_MINUTES": "0",
        "CLIPBOT_DIGEST_THRESHOLD": "1000",  # cards, one by one, so kills land mid-drain
        "CLIPBOT_HTTP_PORT": str(free_port()),
        "CLIPBOT_LOG_LEVEL": "INFO",
    }
    faults: Counter[str] = Counter()
    arrived = 0
    for kill in range(KILLS):
        for _ in range(rng.randint(0, 2)):
            slack.fail("chat.postMessage", RATELIMITED)
            faults["slack 429"] += 1
        if rng.random() < 0.6:
            slack.lose_answers("chat.postMessage", rng.randint(1, 2))
            faults["slack lost answer"] += 1
        if rng.random() < 0.5:
            kind = rng.choice(sorted(RHOMBUS_FAULTS))
            rhombus.fail("getSavedClipsV2", RHOMBUS_FAULTS[kind])
            faults[f"rhombus {kind}"] += 1
        if kill % 2 and arrived < ARRIVING:
            rhombus.add(
                *(
                    clip(f"K{BACKLOG + arrived + j:03d}", T0 + 60_000_000 + (arrived + j) * 1000)
                    for j in range(2)
                )
            )
            arrived += 2
        bot = Process(["run"], run_env, _folder(tmp_path, f"run{kill:02d}"))
        _talking(slack, len(slack.calls))
        if kill == KILLS // 2:
            _second_process_refused(run_env, tmp_path, slack, faults)
        time.sleep(rng.uniform(0.0, 1.5))
        bot.proc.send_signal(signal.SIGKILL)
        bot.wait(10)
    slack.calm()
    expected = [f"K{i:03d}" for i in range(BACKLOG + arrived)]
    final = Process(["run"], run_env, _folder(tmp_path, "final"))
    try:
        caught_up = eventually(
            lambda: all(set(expected) <= set(posted(slack, c)) for c in GOOD), timeout=90
        )
    finally:
        assert final.stop() == 0, final.stderr
    store = SqliteStore(str(db))
    refused = store.subscription(REFUSING)
    in_doubt = store.in_doubt()
    store.close()
    duplicates = sum(n - 1 for c in GOOD for n in Counter(posted(slack, c)).values() if n > 1)
    losses = sum(len(set(expected) - set(posted(slack, c))) for c in GOOD)
    with capsys.disabled():
        print(
            f"\nfault suite: {KILLS} SIGKILLs, {sum(faults.values())} faults injected"
            f" ({', '.join(f'{k} x{n}' for k, n in sorted(faults.items()))}),"
            f" {len(expected)} clips x {len(GOOD)} channels (+2 odd records, 1 refusing"
            f" channel), duplicates {duplicates}, losses {losses},"
            f" {time.monotonic() - started:.0f}s"
        )
    assert (duplicates, losses, in_doubt) == (0, 0, [])
    assert caught_up
    assert [m for m in slack.posts() if m.channel not in GOOD] == []
    assert refused is not None and refused.broken == "restricted_action"
    assert all(not u.startswith("ODD") for c in GOOD for u in posted(slack, c))


def _talking(slack: FakeSlack, before: int) -> None:
    """Waits (a few seconds at most) until the new process is talking to Slack."""
    eventually(lambda: len(slack.calls) > before + 1, timeout=4)


def _folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def _second_process_refused(
    run_env: dict[str, str], tmp_path: Path, slack: FakeSlack, faults: Counter[str]
) -> None:
    """A second clipbot on the same SQLite file exits 2 at once and disturbs nothing."""
    for i, args in enumerate((["poll", "--once"], ["run"])):
        second = Process(args, run_env, _folder(tmp_path, f"second{i}"))
        assert second.wait(20) == 2, second.stderr
        assert "another clipbot is using" in second.stderr
        faults["second process"] += 1
