"""5. Command latency: many /clips commands at once over Socket Mode to the real process."""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

from bench.process import Process, environment, sqlite_url
from bench.report import Figure, Result, median, percentile
from tests.bolt import eventually
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode
from tests.world import T0

RHOMBUS_LATENCY = 0.05
SLACK_LATENCY = 0.03


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(commands: int = 200) -> Result:
    result = Result(
        5,
        "Command latency",
        f"{commands} `/clips` commands (the 10 most recent clips) sent at once by {commands} "
        "different people over one Socket Mode connection (the fake WebSocket server) to a real "
        f"`clipbot run`; the fake Slack answers in {SLACK_LATENCY * 1000:.0f} ms (users.info: "
        f"each person looked up once), the fake Rhombus in {RHOMBUS_LATENCY * 1000:.0f} ms. "
        "Acknowledgement: envelope sent → its ack back on the socket. Full reply: envelope sent "
        "→ the reply posted to its response_url.",
    )
    rhombus, slack, socket = FakeRhombus().start(), FakeSlack().start(), FakeSocketMode().start()
    rhombus.add(*(clip(f"C{i:03d}", T0 + i * 1000) for i in range(50)))
    slack.socket_url = socket.url
    ids = itertools.count(1)
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(rhombus, slack, sqlite_url(Path(tmp)))
        env["CLIPBOT_POLL_SECONDS"] = "3600"
        bot = Process(["run"], env, Path(tmp))
        try:
            assert eventually(lambda: socket.connections, timeout=60), bot.stderr[-2000:]
            time.sleep(1)  # settle: the first poll cycle runs at start
            rhombus.latency, slack.latency = RHOMBUS_LATENCY, SLACK_LATENCY
            sent: dict[str, str] = {}  # envelope id -> response_url name
            cpu0 = cpu_seconds(bot.proc.pid)
            for n in range(commands):
                name = f"cmd{n}"
                envelope = socket.send(
                    "slash_commands",
                    {
                        "team_id": "T0001",
                        "channel_id": "C1",
                        "user_id": f"U{n:04d}",
                        "command": "/clips",
                        "text": "",
                        "response_url": slack.response_url(name),
                        "trigger_id": f"bench-{next(ids)}",
                    },
                )
                sent[envelope] = name
            done = eventually(lambda: len(slack.responded) >= commands, timeout=120)
            eventually(lambda: len(socket.acked_at) >= commands, timeout=30)
            cpu = cpu_seconds(bot.proc.pid) - cpu0
        finally:
            bot.stop()
            socket.stop()
            rhombus.stop()
            slack.stop()
    replied = dict(slack.responded)
    acks = [(socket.acked_at[e] - socket.sent_at[e]) * 1000 for e in sent if e in socket.acked_at]
    full = [(replied[n] - socket.sent_at[e]) * 1000 for e, n in sent.items() if n in replied]
    result.add(
        Figure("acknowledged", len(acks), "", f"{commands}", "", None, len(acks) == commands)
    )
    result.add(Figure("ack p50", median(acks), "ms"))
    result.add(Figure("ack p95", percentile(acks, 95), "ms"))
    p99 = percentile(acks, 99)
    result.add(
        Figure("ack p99", p99, "ms", "< 100 ms", "Slack's 3,000 ms deadline", p99 / 3000, p99 < 100)
    )
    result.add(Figure("replied", len(full), "", f"{commands}", "", None, bool(done)))
    result.add(Figure("full reply p50", median(full), "ms"))
    result.add(Figure("full reply p95", percentile(full, 95), "ms"))
    result.add(Figure("full reply p99", percentile(full, 99), "ms"))
    result.add(
        Figure("clipbot's CPU per command (acknowledgement and reply)", cpu / commands * 1000, "ms")
    )
    return result
