"""`clipbot run` as a real process against the fakes, as tests/test_run.py starts it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.fakes import rhombus as fake_rhombus
from tests.fakes import slack as fake_slack
from tests.fakes.settings import fake_settings
from tests.test_run import Process

__all__ = ["Process", "environment"]


def environment(
    rhombus: fake_rhombus.FakeRhombus, slack: fake_slack.FakeSlack, database_url: str
) -> dict[str, str]:
    """Every setting `clipbot run` needs, pointing at the fakes; logs at INFO."""
    return {
        **fake_settings(rhombus, slack, database_url),
        "CLIPBOT_REMIND_MINUTES": "0",
        "CLIPBOT_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
    }


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'clipbot.db'}"
