"""Log lines in both formats: structured fields, one JSON object per line, secrets masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from clipbot import jobs, logs
from clipbot.inflight import Busy
from tests.fakes.rhombus import FakeRhombus, clip
from tests.fakes.slack import FakeSlack
from tests.world import T0, World

SECRET = "xoxb-1234-secret-token"
QUOTED = 'pa"ss\\word-9'  # escaped differently inside JSON


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("clipbot.test_logs")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)


def emit(logger: logging.Logger, fmt: str, call: str = "info", **kwargs: object) -> str:
    stream = io.StringIO()
    logger.addHandler(logs.handler((SECRET, QUOTED), fmt, stream))
    try:
        getattr(logger, call)(*kwargs.pop("args"), **kwargs)  # type: ignore[arg-type]
    finally:
        logger.handlers.clear()
    return stream.getvalue()


class TestJson:
    def test_one_object_per_line_with_fields(self, logger: logging.Logger) -> None:
        """A record becomes one JSON object: time, level, logger, message and its fields."""
        out = emit(
            logger,
            "json",
            args=("posted %d clip(s)", 2),
            extra={"channel": "C1", "clip_uuid": "AAA", "cycle": 7},
        )
        assert out.endswith("\n") and out.count("\n") == 1
        line = json.loads(out)
        assert line.pop("time").endswith("+00:00")
        assert line == {
            "level": "INFO",
            "logger": "clipbot.test_logs",
            "message": "posted 2 clip(s)",
            "channel": "C1",
            "clip_uuid": "AAA",
            "cycle": 7,
        }

    def test_secrets_masked_everywhere_at_debug(self, logger: logging.Logger) -> None:
        """A secret in the message, its arguments, a field or a traceback never reaches the line."""
        try:
            raise RuntimeError(f"token {SECRET} refused")
        except RuntimeError:
            out = emit(
                logger,
                "json",
                call="debug",
                args=("auth %s %s", SECRET, QUOTED),
                extra={"header": f"Bearer {SECRET}", "raw": {"k": QUOTED}},
                exc_info=True,
            )
        line = json.loads(out)
        assert SECRET not in out
        assert [k for k, v in line.items() if SECRET in str(v) or QUOTED in str(v)] == []
        assert line["message"] == "auth *** ***"
        assert line["header"] == "Bearer ***"
        assert line["raw"] == "{'k': '***'}"
        assert line["exception"].splitlines()[-1] == "RuntimeError: token *** refused"
        assert line["level"] == "DEBUG"


class TestText:
    def test_fields_follow_the_message(self, logger: logging.Logger) -> None:
        """The text format appends fields as key=value, quoting values with spaces."""
        out = emit(logger, "text", args=("hello",), extra={"channel": "C1", "why": "two words"})
        assert out.rstrip("\n").split(" ", 2)[2] == (
            'level=INFO logger=clipbot.test_logs hello channel=C1 why="two words"'
        )

    def test_secrets_masked_at_debug(self, logger: logging.Logger) -> None:
        """Text lines mask secrets in the message, the fields and the traceback."""
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            out = emit(
                logger,
                "text",
                call="debug",
                args=("key %s", SECRET),
                extra={"header": SECRET},
                exc_info=True,
            )
        assert SECRET not in out
        assert "key *** header=***" in out.splitlines()[0]
        assert out.splitlines()[-1] == "RuntimeError: ***"


class TestContext:
    def test_a_cycles_lines_carry_cycle_and_channel(
        self, rhombus: FakeRhombus, slack: FakeSlack, tmp_path: Path
    ) -> None:
        """Lines logged during a poll run (in the poller's pool threads too) carry the run's
        `cycle` and, inside a channel's delivery, its `channel`, as JSON fields."""
        world = World(rhombus, slack, tmp_path / "clipbot.db")
        stream = io.StringIO()
        out = logs.handler((), "json", stream)
        clipbot_log = logging.getLogger("clipbot")
        clipbot_log.addHandler(out)
        try:
            world.subscribe("CGONE")
            slack.channel("CGONE", error="is_archived")
            rhombus.add(clip("A", T0 + 1000))
            jobs.guarded("poll", world.poller.poll_once, Busy(), 30)()
        finally:
            clipbot_log.removeHandler(out)
            world.close()
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        broken = [line for line in lines if line["message"].startswith("channel CGONE is broken")]
        assert [(b["cycle"], b["channel"], b["level"]) for b in broken] == [
            ("poll-1", "CGONE", "WARNING")
        ]
