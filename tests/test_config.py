"""Settings: defaults, every kind of bad value, and `.env` under the environment."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clipbot.access import Access, SharePolicy
from clipbot.config import ConfigError, Secret, Settings, load_env, machine_zone

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
    "SLACK_APP_TOKEN": "xapp-1-A1-abc",
    "RHOMBUS_API_KEY": "rk-secret-value",
}


def problems(env: dict[str, str], need: str = "all") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env, need=need)
    return caught.value.problems


class TestSettings:
    def test_defaults(self) -> None:
        """A minimal environment gets the contract's defaults."""
        settings = Settings.from_env(GOOD)
        assert settings == Settings(
            slack_bot_token=Secret("xoxb-1-2-abc"),
            slack_app_token=Secret("xapp-1-A1-abc"),
            slack_signing_secret=Secret(""),
            slack_api_url="https://slack.com/api/",
            rhombus_api_key=Secret("rk-secret-value"),
            rhombus_auth_scheme="api-token",
            rhombus_org_uuid=None,
            rhombus_api_url="https://api2.rhombussystems.com/api",
            rhombus_media_url="https://media.rhombussystems.com",
            rhombus_console_url="https://console.rhombussystems.com",
            database_url="sqlite:///clipbot.db",
            poll_seconds=30,
            digest_threshold=20,
            share_hours=24,
            remind_minutes=30,
            http_port=None,
            admins=frozenset(),
            share=SharePolicy.EVERYONE,
            log_level="INFO",
            timezone=machine_zone(),
            summary_at=None,
            log_format="text",
            metrics_port=None,
            video_max_mb=50,
        )
        assert settings.socket_mode

    def test_log_format_and_metrics_port(self) -> None:
        """JSON logs (any case) and a metrics port are read; bad values are named."""
        settings = Settings.from_env(
            {**GOOD, "CLIPBOT_LOG_FORMAT": "JSON", "CLIPBOT_METRICS_PORT": "9464"}
        )
        assert (settings.log_format, settings.metrics_port) == ("json", 9464)
        assert problems({**GOOD, "CLIPBOT_LOG_FORMAT": "xml", "CLIPBOT_METRICS_PORT": "0"}) == [
            "CLIPBOT_LOG_FORMAT: 'xml' is not one of text, json",
            "CLIPBOT_METRICS_PORT: 0 is out of range (1 to 65535)",
        ]

    def test_metrics_port_is_not_the_slack_port(self) -> None:
        """Health and metrics get their own port: the same number as the Slack port is refused."""
        env = {**GOOD, "SLACK_SIGNING_SECRET": "s", "CLIPBOT_HTTP_PORT": "8080"}
        assert problems({**env, "CLIPBOT_METRICS_PORT": "8080"}) == [
            "CLIPBOT_METRICS_PORT: must differ from CLIPBOT_HTTP_PORT "
            "(health and metrics are served on their own port)"
        ]

    def test_every_problem_named_at_once(self) -> None:
        """Several bad values are reported together, each naming its variable and fault."""
        env = {
            "SLACK_BOT_TOKEN": "xapp-wrong-kind",
            "SLACK_APP_TOKEN": "xoxb-wrong-kind",
            "CLIPBOT_POLL_SECONDS": "often",
            "RHOMBUS_AUTH_SCHEME": "basic",
            "CLIPBOT_DATABASE_URL": "mysql://db/clipbot",
            "CLIPBOT_ADMINS": "U123ABC, bob",
            "CLIPBOT_REMIND_MINUTES": "-5",
        }
        assert problems(env) == [
            "SLACK_BOT_TOKEN: must start with 'xoxb-' (this one is an app-level token)",
            "SLACK_APP_TOKEN: must start with 'xapp-' (this one is a bot token)",
            "RHOMBUS_API_KEY: missing (required)",
            "RHOMBUS_AUTH_SCHEME: 'basic' is not one of api-token, partner-api-token",
            "CLIPBOT_DATABASE_URL: unsupported scheme 'mysql'; "
            "use sqlite:///path/to/file.db or postgresql://…",
            "CLIPBOT_POLL_SECONDS: 'often' is not a whole number",
            "CLIPBOT_REMIND_MINUTES: -5 is out of range (0 to 10080)",
            "CLIPBOT_ADMINS: 'bob' is not a Slack user ID (like U012AB3CD)",
        ]

    def test_error_message_lists_each_problem(self) -> None:
        """The exception's text is one message with a line per problem."""
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({})
        assert str(caught.value) == (
            "invalid configuration:\n"
            "  - SLACK_BOT_TOKEN: missing (required)\n"
            "  - SLACK_APP_TOKEN: missing (required)\n"
            "  - RHOMBUS_API_KEY: missing (required)"
        )

    def test_http_mode_needs_signing_secret_not_app_token(self) -> None:
        """With CLIPBOT_HTTP_PORT set the signing secret is required and the app token is not."""
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "RHOMBUS_API_KEY": "k", "CLIPBOT_HTTP_PORT": "3000"}
        assert problems(env) == ["SLACK_SIGNING_SECRET: missing (required)"]
        settings = Settings.from_env({**env, "SLACK_SIGNING_SECRET": "s3cr3t"})
        assert (settings.http_port, settings.socket_mode) == (3000, False)

    def test_video_limit(self) -> None:
        """CLIPBOT_VIDEO_MAX_MB is read (0 allowed: no Video button), and out of range named."""
        assert Settings.from_env({**GOOD, "CLIPBOT_VIDEO_MAX_MB": "0"}).video_max_mb == 0
        assert problems({**GOOD, "CLIPBOT_VIDEO_MAX_MB": "2000"}) == [
            "CLIPBOT_VIDEO_MAX_MB: 2000 is out of range (0 to 1000)"
        ]

    def test_bad_port_and_url(self) -> None:
        """A port out of range and a URL that is not http(s) are named."""
        env = {**GOOD, "CLIPBOT_HTTP_PORT": "70000", "RHOMBUS_API_URL": "ftp://x"}
        assert problems(env) == [
            "CLIPBOT_HTTP_PORT: 70000 is out of range (1 to 65535)",
            "RHOMBUS_API_URL: 'ftp://x' is not an http(s) URL",
        ]

    def test_poll_seconds_from_one(self) -> None:
        """CLIPBOT_POLL_SECONDS accepts 1 and up; 0 is named."""
        assert Settings.from_env({**GOOD, "CLIPBOT_POLL_SECONDS": "1"}).poll_seconds == 1
        assert problems({**GOOD, "CLIPBOT_POLL_SECONDS": "0"}) == [
            "CLIPBOT_POLL_SECONDS: 0 is out of range (1 to 86400)"
        ]

    def test_partner_scheme_needs_org(self) -> None:
        """A partner token without the client org is refused; with it, it is kept."""
        env = {**GOOD, "RHOMBUS_AUTH_SCHEME": "partner-api-token"}
        assert problems(env) == [
            "RHOMBUS_ORG_UUID: required with RHOMBUS_AUTH_SCHEME=partner-api-token "
            "(the client organization the partner key acts for)"
        ]
        settings = Settings.from_env({**env, "RHOMBUS_ORG_UUID": "ORG1"})
        assert (settings.rhombus_auth_scheme, settings.rhombus_org_uuid) == (
            "partner-api-token",
            "ORG1",
        )

    def test_terminal_commands_need_only_rhombus(self) -> None:
        """`clipbot clips` runs with just the Rhombus key."""
        settings = Settings.from_env({"RHOMBUS_API_KEY": "k"}, need="rhombus")
        assert settings.rhombus_api_key == Secret("k")
        assert problems({"RHOMBUS_API_KEY": "k"}, need="web") == [
            "SLACK_BOT_TOKEN: missing (required)"
        ]

    def test_secrets_do_not_show(self) -> None:
        """Neither the repr of Settings nor the bad-value messages echo a secret."""
        settings = Settings.from_env(GOOD)
        assert "rk-secret-value" not in repr(settings)
        assert "xoxb-1-2-abc" not in repr(settings)
        message = problems({"SLACK_BOT_TOKEN": "xoxp-user-secret-123", "RHOMBUS_API_KEY": "k"})
        assert "xoxp-user-secret-123" not in "\n".join(message)

    def test_database_password_is_a_secret(self) -> None:
        """A PostgreSQL URL's password is masked in logs and left out of the settings' repr."""
        url = "postgresql://clipbot:pg-pass-1234@db:5432/clipbot"
        settings = Settings.from_env({**GOOD, "CLIPBOT_DATABASE_URL": url})
        assert (settings.database_url, settings.secrets[-1]) == (url, "pg-pass-1234")
        assert "pg-pass-1234" not in repr(settings)

    def test_admins_and_log_level(self) -> None:
        """Admin IDs are split on commas; the log level is case-insensitive."""
        settings = Settings.from_env(
            {**GOOD, "CLIPBOT_ADMINS": "U1AA, W2BB", "CLIPBOT_LOG_LEVEL": "debug"}
        )
        assert (settings.admins, settings.log_level) == (frozenset({"U1AA", "W2BB"}), "DEBUG")

    def test_timezone_and_summary_time(self) -> None:
        """An IANA zone and an HH:MM time are read as such."""
        settings = Settings.from_env(
            {**GOOD, "CLIPBOT_TIMEZONE": "Europe/Berlin", "CLIPBOT_SUMMARY_AT": "7:05"}
        )
        assert (settings.timezone, settings.summary_at) == (ZoneInfo("Europe/Berlin"), time(7, 5))

    @pytest.mark.parametrize("value", ["8", "24:00", "08:60", "08:5", "8h", "０8:00", "08:00:00"])
    def test_bad_summary_time(self, value: str) -> None:
        """Anything but a 24-hour HH:MM is named."""
        assert problems({**GOOD, "CLIPBOT_SUMMARY_AT": value}) == [
            f"CLIPBOT_SUMMARY_AT: {value!r} is not a time of day as HH:MM (like 08:30)"
        ]

    @pytest.mark.parametrize("value", ["Mars/Olympus", "../etc/passwd", "CEST+2"])
    def test_bad_timezone(self, value: str) -> None:
        """A zone that is not in the IANA database is named."""
        assert problems({**GOOD, "CLIPBOT_TIMEZONE": value}) == [
            f"CLIPBOT_TIMEZONE: {value!r} is not an IANA time zone (like Europe/Berlin)"
        ]

    def test_share_policy(self) -> None:
        """CLIPBOT_SHARE is everyone, admins or off (any case); anything else is named."""
        settings = Settings.from_env({**GOOD, "CLIPBOT_SHARE": "Admins", "CLIPBOT_ADMINS": "U1"})
        assert settings.access == Access(frozenset({"U1"}), SharePolicy.ADMINS)
        assert Settings.from_env({**GOOD, "CLIPBOT_SHARE": "off"}).share is SharePolicy.OFF
        assert problems({**GOOD, "CLIPBOT_SHARE": "nobody"}) == [
            "CLIPBOT_SHARE: 'nobody' is not one of everyone, admins, off"
        ]


class TestLoadEnv:
    def test_environment_wins_over_dotenv(self, tmp_path: Path) -> None:
        """A variable set in the environment beats the same one in `.env`; others come from `.env`."""
        dotenv = tmp_path / ".env"
        dotenv.write_text("CLIPBOT_POLL_SECONDS=60\nRHOMBUS_API_KEY=from-file\n")
        merged = load_env({"CLIPBOT_POLL_SECONDS": "15"}, dotenv)
        assert (merged["CLIPBOT_POLL_SECONDS"], merged["RHOMBUS_API_KEY"]) == ("15", "from-file")

    def test_missing_dotenv_is_fine(self, tmp_path: Path) -> None:
        """No `.env` file means just the environment."""
        assert load_env({"A": "1"}, tmp_path / "nope.env") == {"A": "1"}


class _Recording(dict[str, str]):
    """An environment that remembers which variables were asked for."""

    def __init__(self, *args: object, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)


def test_env_example_lists_every_setting() -> None:
    """`.env.example` and the README's table name exactly the variables Settings reads."""
    root = Path(__file__).parent.parent
    env = _Recording(GOOD)
    Settings.from_env(env)
    example = {
        line.split("=", 1)[0]
        for line in (root / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    readme = (root / "README.md").read_text()
    assert example == env.asked
    assert [name for name in sorted(env.asked) if f"| `{name}` |" not in readme] == []
