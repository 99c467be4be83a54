"""Failover: three `clipbot run` replicas on one PostgreSQL database, against the fakes.

A backlog arrives; the polling replica is SIGKILLed in the middle of a cycle, twice; every clip
still reaches every channel exactly once, each takeover time is printed, and a killed replica
started again joins as a follower that serves Slack.
"""

from __future__ import annotations

import collections
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from clipbot.state import Subscription
from clipbot.store.postgres import PostgresStore
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.test_commands import sign
from tests.test_run import Process, free_port

T0 = 1_764_000_000_000
CHANNELS = ("C1", "C2", "C3", "C4")
POLL_S = 5


class Replica:
    """One `clipbot run` serving Slack over HTTP on a port of its own."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = Process(["run"], {**env, "CLIPBOT_HTTP_PORT": str(self.port)}, folder)

    @property
    def pid(self) -> int:
        return self.process.proc.pid

    def status(self, slack: FakeSlack) -> str | None:
        """The text of `/clips status` as this replica answers it, or None while it does not."""
        url = urllib.parse.quote(slack.response_url(), safe="")
        body = f"team_id=T0001&channel_id=C1&user_id=U1&command=%2Fclips&text=status&response_url={url}"
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{self.port}/slack/events",
                content=body,
                headers=sign(body, int(time.time())),
                timeout=5,
            )
        except httpx.TransportError:
            return None
        if answer.status_code != 200:
            return None
        if answer.content:
            return str(answer.json()["text"])
        replied = eventually(lambda: slack.responses, timeout=10)
        return str(replied[-1]["text"]) if replied else None


def posted(slack: FakeSlack, channel: str) -> list[str]:
    """Clip uuids of the cards in the channel, in posting order."""
    return [
        (m.metadata or {}).get("event_payload", {}).get("clip_uuid", "?")
        for m in slack.posts(channel)
    ]


def total_posted(slack: FakeSlack) -> int:
    return sum(len(slack.posts(channel)) for channel in CHANNELS)


def test_failover(
    env: dict[str, str],
    postgres_url: str,
    rhombus: FakeRhombus,
    slack: FakeSlack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two SIGKILLs of the polling replica mid-cycle: every clip posted exactly once, a new
    leader within two poll intervals each time, and a restarted replica follows."""
    store = PostgresStore(postgres_url)
    for channel in CHANNELS:
        store.subscribe(Subscription(channel, "T0001", "U1", T0 - 1, start_ms=T0 - 1))
    run_env = {
        **env,
        "CLIPBOT_DATABASE_URL": postgres_url,
        "CLIPBOT_POLL_SECONDS": str(POLL_S),
        "CLIPBOT_REMIND_MINUTES": "0",
        "CLIPBOT_DIGEST_THRESHOLD": "1000",  # every clip its own card: a long cycle to cut
    }
    first_wave = [clip(f"A{i:03}", T0 + i * 1000) for i in range(32)]
    second_wave = [clip(f"B{i:03}", T0 + 100_000 + i * 1000) for i in range(16)]
    rhombus.add(*first_wave)
    replicas = [Replica(run_env, tmp_path / f"r{i}") for i in range(3)]
    takeovers: list[float] = []
    try:
        for kill in range(2):
            leader = eventually(lambda: leader_of(store, replicas), timeout=60)
            assert leader is not None, [r.process.stderr[-2000:] for r in replicas]
            already = total_posted(slack)
            assert eventually(lambda a=already: total_posted(slack) >= a + 5, timeout=60)
            leader.process.proc.kill()  # SIGKILL, in the middle of posting the backlog
            killed_at = time.monotonic()
            leader.process.wait()
            replicas.remove(leader)
            if kill == 0:
                rhombus.add(*second_wave)
            successor = eventually(lambda: leader_of(store, replicas), timeout=60)
            assert successor is not None
            takeovers.append(time.monotonic() - killed_at)
        every = [c["uuid"] for c in first_wave + second_wave]
        assert eventually(
            lambda: all(set(posted(slack, ch)) >= set(every) for ch in CHANNELS), timeout=120
        ), total_posted(slack)
        time.sleep(POLL_S)  # one more cycle: nothing may be posted again
        for channel in CHANNELS:
            counts = collections.Counter(posted(slack, channel))
            assert (sorted(counts), set(counts.values())) == (sorted(every), {1}), channel
        rejoined = Replica(run_env, tmp_path / "r0-again")
        replicas.append(rejoined)
        status = eventually(lambda: rejoined.status(slack), timeout=30)
        assert status is not None and status.splitlines()[-1] == "This replica: follower"
        assert leader_of(store, replicas) is not rejoined
    finally:
        for replica in replicas:
            if replica.process.proc.poll() is None:
                assert replica.process.stop() == 0, replica.process.stderr[-2000:]
        store.close()
    with capsys.disabled():
        print(
            f"\nfailover: {len(every)} clips x {len(CHANNELS)} channels posted exactly once;"
            f" takeover after SIGKILL: {', '.join(f'{t:.1f}s' for t in takeovers)}"
            f" (poll interval {POLL_S}s, contract: within {2 * POLL_S}s)"
        )


def leader_of(store: PostgresStore, replicas: list[Replica]) -> Replica | None:
    """The replica holding the lease (its name carries its pid), if it is one of these."""
    holder = store.lease_holder()
    pid = int(holder.split(":")[1]) if holder else None
    return next((r for r in replicas if r.pid == pid), None)
