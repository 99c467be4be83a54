"""The settings that point clipbot at the loopback fakes."""

from __future__ import annotations

from tests.fakes import rhombus as fake_rhombus
from tests.fakes import slack as fake_slack


def fake_settings(
    rhombus: fake_rhombus.FakeRhombus, slack: fake_slack.FakeSlack, database_url: str
) -> dict[str, str]:
    """Every setting clipbot needs, as environment variables: the fakes' credentials and URLs,
    and the store at `database_url`."""
    return {
        "SLACK_BOT_TOKEN": fake_slack.BOT_TOKEN,
        "SLACK_APP_TOKEN": fake_slack.APP_TOKEN,
        "SLACK_SIGNING_SECRET": fake_slack.SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "RHOMBUS_API_KEY": fake_rhombus.API_KEY,
        "RHOMBUS_API_URL": rhombus.api_url,
        "RHOMBUS_MEDIA_URL": rhombus.media_url,
        "RHOMBUS_CONSOLE_URL": "https://console.example.test",
        "CLIPBOT_DATABASE_URL": database_url,
    }
