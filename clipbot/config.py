"""Settings: read once from the environment, checked all at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal
from dotenv import dotenv_values

from clipbot.access import Access, SharePolicy

AUTH_SCHEMES = ("api-token", "partner-api-token")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """Every missing or invalid setting, named in one message."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class Secret:
    """A credential that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything clipbot is configured with; see `.env.example`."""

    slack_bot_token: Secret
    slack_app_token: Secret
    slack_signing_secret: Secret
    slack_api_url: str
    rhombus_api_key: Secret
    rhombus_auth_scheme: str
    rhombus_org_uuid: str | None
    rhombus_api_url: str
    rhombus_media_url: str
    rhombus_console_url: str
    database_url: str = field(repr=False)  # may carry a password
    poll_seconds: int
    digest_threshold: int
    share_hours: int
    remind_minutes: int
    http_port: int | None
    admins: frozenset[str]
    share: SharePolicy
    log_level: str
    timezone: ZoneInfo
    summary_at: time | None
    log_format: str = "text"
    metrics_port: int | None = None
    video_max_mb: int = 50

    @property
    def socket_mode(self) -> bool:
        return self.http_port is None

    @property
    def access(self) -> Access:
        """CLIPBOT_ADMINS and CLIPBOT_SHARE, for the parts that decide who may do what."""
        return Access(self.admins, self.share)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The raw secret values, for the log filter that masks them."""
        values = (
            self.slack_bot_token,
            self.slack_app_token,
            self.slack_signing_secret,
            self.rhombus_api_key,
        )
        password = urlsplit(self.database_url).password  # postgresql://user:password@host/db
        return tuple(s.reveal() for s in values if s) + ((password,) if password else ())

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, need: str = "all") -> Settings:
        """Build settings from `env`, raising ConfigError naming every problem.

        `need` says which credentials must be present: "all" (running the app),
        "web" (the bot token, for posting only), "rhombus" (terminal commands) or "store"
        (none: commands that only read the store, like `clipbot audit`).
        """
        reader = _Reader(env)
        need_slack = need in ("all", "web")
        need_app = need == "all"
        http_port = reader.integer("CLIPBOT_HTTP_PORT", None, low=1, high=65535)
        settings = cls(
            slack_bot_token=reader.token("SLACK_BOT_TOKEN", "xoxb-", required=need_slack),
            slack_app_token=reader.token(
                "SLACK_APP_TOKEN", "xapp-", required=need_app and http_port is None
            ),
            slack_signing_secret=Secret(
                reader.text("SLACK_SIGNING_SECRET", required=need_app and http_port is not None)
            ),
            slack_api_url=reader.url("SLACK_API_URL", "https://slack.com/api/", slash=True),
            rhombus_api_key=Secret(reader.text("RHOMBUS_API_KEY", required=need != "store")),
            rhombus_auth_scheme=reader.choice("RHOMBUS_AUTH_SCHEME", "api-token", AUTH_SCHEMES),
            rhombus_org_uuid=reader.text("RHOMBUS_ORG_UUID") or None,
            rhombus_api_url=reader.url(
                "RHOMBUS_API_URL", "https://api2.rhombussystems.com/api", slash=False
            ),
            rhombus_media_url=reader.url(
                "RHOMBUS_MEDIA_URL", "https://media.rhombussystems.com", slash=False
            ),
            rhombus_console_url=reader.url(
                "RHOMBUS_CONSOLE_URL", "https://console.rhombussystems.com", slash=False
            ),
            database_url=reader.database("CLIPBOT_DATABASE_URL", "sqlite:///clipbot.db"),
            poll_seconds=reader.number("CLIPBOT_POLL_SECONDS", 30, low=1, high=86400),
            digest_threshold=reader.number("CLIPBOT_DIGEST_THRESHOLD", 20, low=1, high=1000),
            share_hours=reader.number("CLIPBOT_SHARE_HOURS", 24, low=1, high=24 * 365),
            remind_minutes=reader.number("CLIPBOT_REMIND_MINUTES", 30, low=0, high=7 * 24 * 60),
            http_port=http_port,
            admins=reader.user_ids("CLIPBOT_ADMINS"),
            share=SharePolicy(
                reader.choice("CLIPBOT_SHARE", "everyone", tuple(SharePolicy), lower=True)
            ),
            log_level=reader.choice("CLIPBOT_LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            timezone=reader.zone("CLIPBOT_TIMEZONE"),
            summary_at=reader.clock_time("CLIPBOT_SUMMARY_AT"),
            log_format=reader.choice("CLIPBOT_LOG_FORMAT", "text", LOG_FORMATS, lower=True),
            metrics_port=reader.integer("CLIPBOT_METRICS_PORT", None, low=1, high=65535),
            video_max_mb=reader.number("CLIPBOT_VIDEO_MAX_MB", 50, low=0, high=1000),
        )
        if settings.metrics_port is not None and settings.metrics_port == http_port:
            reader.problems.append(
                "CLIPBOT_METRICS_PORT: must differ from CLIPBOT_HTTP_PORT "
                "(health and metrics are served on their own port)"
            )
        if settings.rhombus_auth_scheme == "partner-api-token" and not settings.rhombus_org_uuid:
            reader.problems.append(
                "RHOMBUS_ORG_UUID: required with RHOMBUS_AUTH_SCHEME=partner-api-token "
                "(the client organization the partner key acts for)"
            )
        if reader.problems:
            raise ConfigError(reader.problems)
        return settings


def load_env(
    environ: Mapping[str, str] | None = None, dotenv_path: Path = Path(".env")
) -> dict[str, str]:
    """The process environment over the values of `.env`: a set variable wins."""
    merged = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
    merged.update(os.environ if environ is None else environ)
    return merged


class _Reader:
    """Reads typed values from an environment mapping, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.env.get(name, "").strip()
        if required and not value:
            self.problems.append(f"{name}: missing (required)")
        return value

    def token(self, name: str, prefix: str, *, required: bool) -> Secret:
        value = self.text(name, required=required)
        if value and not value.startswith(prefix):
            kind = next((k for p, k in _TOKEN_KINDS.items() if value.startswith(p)), "not a token")
            self.problems.append(f"{name}: must start with {prefix!r} (this one is {kind})")
        return Secret(value)

    def integer(self, name: str, default: int | None, *, low: int, high: int) -> int | None:
        raw = self.text(name)
        if not raw:
            return default
        return self._checked(name, raw, default, low, high)

    def number(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.integer(name, default, low=low, high=high)
        return default if value is None else value

    def _checked(self, name: str, raw: str, default: int | None, low: int, high: int) -> int | None:
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}: {_shown(raw)} is not a whole number")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name}: {value} is out of range ({low} to {high})")
            return default
        return value

    def choice(
        self,
        name: str,
        default: str,
        allowed: tuple[str, ...],
        *,
        upper: bool = False,
        lower: bool = False,
    ) -> str:
        raw = self.text(name) or default
        value = raw.upper() if upper else raw.lower() if lower else raw
        if value not in allowed:
            self.problems.append(f"{name}: {_shown(raw)} is not one of {', '.join(allowed)}")
            return default
        return value

    def url(self, name: str, default: str, *, slash: bool) -> str:
        value = self.text(name) or default
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(f"{name}: {_shown(value)} is not an http(s) URL")
            return default
        value = value.rstrip("/")
        return value + "/" if slash else value

    def database(self, name: str, default: str) -> str:
        value = self.text(name) or default
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            self.problems.append(
                f"{name}: unsupported scheme {scheme or '(none)'!r}; "
                "use sqlite:///path/to/file.db or postgresql://…"
            )
            return default
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            self.problems.append(f"{name}: a SQLite URL looks like sqlite:///clipbot.db")
            return default
        return value

    def user_ids(self, name: str) -> frozenset[str]:
        ids = [part.strip() for part in self.text(name).split(",") if part.strip()]
        bad = [i for i in ids if not (i[:1] in ("U", "W") and i.isalnum() and i.isupper())]
        if bad:
            shown = ", ".join(_shown(b) for b in bad)
            self.problems.append(f"{name}: {shown} is not a Slack user ID (like U012AB3CD)")
        return frozenset(i for i in ids if i not in bad)

    def zone(self, name: str) -> ZoneInfo:
        """An IANA time zone like Europe/Berlin; unset: the machine's own zone."""
        raw = self.text(name)
        if not raw:
            return machine_zone()
        try:
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(
                f"{name}: {_shown(raw)} is not an IANA time zone (like Europe/Berlin)"
            )
            return machine_zone()

    def clock_time(self, name: str) -> time | None:
        """A time of day as HH:MM (24-hour clock); unset: None."""
        raw = self.text(name)
        if not raw:
            return None
        hours, colon, minutes = raw.partition(":")
        if colon and _two_digits(hours, 23) and _two_digits(minutes, 59) and len(minutes) == 2:
            return time(int(hours), int(minutes))
        self.problems.append(f"{name}: {_shown(raw)} is not a time of day as HH:MM (like 08:30)")
        return None


def machine_zone() -> ZoneInfo:
    """This machine's time zone (TZ, /etc/localtime …, as tzlocal finds it); UTC if unknown."""
    try:
        zone = tzlocal.get_localzone()
    except Exception:  # tzlocal raises several kinds for a misconfigured machine
        return ZoneInfo("UTC")
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


def _two_digits(text: str, high: int) -> bool:
    return 1 <= len(text) <= 2 and text.isascii() and text.isdigit() and int(text) <= high


_TOKEN_KINDS = {
    "xoxb-": "a bot token",
    "xapp-": "an app-level token",
    "xoxp-": "a user token",
    "xoxe": "a refresh token",
}


def _shown(raw: str) -> str:
    """A bad value quoted for an error message, cut short so nothing long is echoed."""
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")
