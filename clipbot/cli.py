"""The `clipbot` command line: run, check, clips, poll, audit."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from slack_sdk.errors import SlackApiError, SlackClientError

from clipbot import audit, logs, wiring
from clipbot.bot import StartFailed, build
from clipbot.config import ConfigError, Settings, load_env
from clipbot.durations import MAX_DURATION_MS
from clipbot.records import Clip
from clipbot.rhombus import RhombusClient, RhombusError
from clipbot.runner import run_bot
from clipbot.slack_errors import slack_credentials_problem
from clipbot.store import StoreOpenError, StoreUnavailable, open_store
from clipbot.words import BadText, bounded_duration

# Which credentials each command needs (see Settings.from_env).
NEEDS = {
    "run": "all",
    "check": "all",
    "clips": "rhombus",
    "poll": "web",
    "audit": "store",
    "healthcheck": "store",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="clipbot", description="Rhombus saved clips in Slack: /clips, notifications, triage."
    )
    verbs = top.add_subparsers(dest="command", metavar="COMMAND")
    verbs.add_parser("run", help="start the Slack app and the poller (the default)")
    verbs.add_parser("check", help="check the configuration and both credentials for real")
    clips = verbs.add_parser("clips", help="list the most recent saved clips in the terminal")
    clips.add_argument("--limit", type=_limit, default=20, help="how many (1-500, default 20)")
    clips.add_argument("--json", action="store_true", help="one JSON object per line")
    poll = verbs.add_parser("poll", help="run one poll cycle and exit")
    poll.add_argument("--once", action="store_true", required=True, help="one cycle, then exit")
    poll.add_argument("--dry-run", action="store_true", help="print what would be posted")
    trail = verbs.add_parser(
        "audit", help="who subscribed, unsubscribed, muted, shared or uploaded, and when"
    )
    trail.add_argument(
        "--since", type=_window, default="7d", help="how far back, like 24h or 30d (default 7d)"
    )
    trail.add_argument("--csv", action="store_true", help="CSV with a header row")
    verbs.add_parser(
        "healthcheck", help="whether the poller keeps up, from the store only (for supervisors)"
    )
    return top


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one command; the process exit code."""
    args = parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = Settings.from_env(load_env(environ), need=NEEDS[command])
    except ConfigError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.secrets, settings.log_format)
    return COMMANDS[command](settings, args)


def check(settings: Settings, args: argparse.Namespace) -> int:
    """Checks the database and both credentials for real and prints a short report; a
    database that cannot be opened is bad configuration (exit 2)."""
    try:
        database = _check_database(settings.database_url)
    except StoreOpenError as exc:
        print(f"clipbot: {ConfigError([f'CLIPBOT_DATABASE_URL: {exc}'])}", file=sys.stderr)
        return 2
    results = [("configuration", None), ("database", database), ("Slack", _check_slack(settings))]
    with wiring.rhombus_client(settings) as client:
        results.append(("Rhombus", _check_rhombus(client)))
    width = max(len(name) for name, _ in results)
    for name, problem in results:
        print(f"{name:<{width}}  {'FAILED: ' + problem if problem else 'ok'}")
    return 1 if any(problem for _, problem in results) else 0


def _check_database(url: str) -> str | None:
    """None when the store at `url` opens (a SQLite file not made yet: when its folder is
    there); why not when the server does not answer. StoreOpenError: it cannot be opened."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            if path.parent.is_dir():
                return None  # clipbot run makes it
            raise StoreOpenError(f"the folder {path.parent} does not exist")
    try:
        open_store(url).close()
    except StoreUnavailable as exc:
        return str(exc)
    return None


def _check_slack(settings: Settings) -> str | None:
    try:
        wiring.slack_client(settings).auth_test()
        if settings.socket_mode:
            app = wiring.slack_client(settings, token=settings.slack_app_token.reveal())
            app.apps_connections_open(app_token=settings.slack_app_token.reveal())
    except SlackApiError as exc:
        return slack_credentials_problem(exc)
    except (SlackClientError, OSError) as exc:
        return f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})"
    return None


def _check_rhombus(client: RhombusClient) -> str | None:
    try:
        client.call("event/getSavedClipsV2", {"maxPageSize": 1})
    except RhombusError as exc:
        return str(exc)
    return None


def clips(settings: Settings, args: argparse.Namespace) -> int:
    """Lists the most recent saved clips, newest first."""
    try:
        with wiring.rhombus_client(settings) as client:
            recent = list(itertools.islice(client.recent(), args.limit))
            names = {c.uuid: client.camera_names(c.camera_ids) for c in recent}
    except RhombusError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    for clip in recent:
        print(_json_line(clip, names[clip.uuid]) if args.json else _row(clip, names[clip.uuid]))
    if not recent and not args.json:
        print("No saved clips.")
    return 0


def _row(clip: Clip, cameras: tuple[str, ...]) -> str:
    saved = datetime.fromtimestamp(clip.created_at_ms / 1000).astimezone()
    duration = f"{clip.duration_sec}s" if clip.duration_sec is not None else "?"
    camera = ", ".join(cameras) or "(no camera)"
    title = clip.title or "(untitled)"
    return f"{saved:%Y-%m-%d %H:%M %Z}  {duration:>6}  {clip.status:<10}  {camera}  —  {title}"


def _json_line(clip: Clip, cameras: tuple[str, ...]) -> str:
    return json.dumps({**clip.to_json(), "camera_names": list(cameras)}, ensure_ascii=False)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return run_bot(settings)


def poll(settings: Settings, args: argparse.Namespace) -> int:
    """`clipbot poll --once [--dry-run]`: one cycle of the bot's own poller."""
    try:
        bot = build(settings)
    except ConfigError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 2
    except StartFailed as exc:  # the database does not answer
        print(f"clipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        if not args.dry_run and not bot.leadership.renew():
            # Another replica polls; a cycle here would only race it.
            print("clipbot: another clipbot replica holds the lease and polls", file=sys.stderr)
            return 1
        result = bot.poller.poll_once(dry_run=args.dry_run)
    except RhombusError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 1
    finally:
        bot.close()
    if args.dry_run:
        print("\n".join(result.planned) or "Nothing to post.")
        return 0
    print(
        f"posted {result.posted} clip(s) ({result.digests} digest(s)), "
        f"updated {result.updated} card(s)"
    )
    for channel in result.broken:
        print(f"channel {channel} is broken and was skipped", file=sys.stderr)
    for failure in result.failed:
        print(failure, file=sys.stderr)
    return 1 if result.failed else 0


def audit_trail(settings: Settings, args: argparse.Namespace) -> int:
    """The audit trail of the last `--since`, newest first, as lines or CSV."""
    try:
        store = open_store(settings.database_url)
    except StoreOpenError as exc:
        print(f"clipbot: CLIPBOT_DATABASE_URL: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"clipbot: CLIPBOT_DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    try:
        entries = store.audit(int(time.time() * 1000) - args.since)
    finally:
        store.close()
    if args.csv:
        audit.write_csv(entries, sys.stdout)
    else:
        print("\n".join(map(audit.terminal_line, entries)) or "Nothing was recorded.")
    return 0


def _window(text: str) -> int:
    """`--since`: a duration like 90m, 24h or 7d, in milliseconds."""
    try:
        return bounded_duration(text, text, MAX_DURATION_MS)
    except BadText as bad:  # the same sentence /clips audit gives, quoted for a terminal
        raise argparse.ArgumentTypeError(str(bad).replace("`", "'").rstrip(".")) from None


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1 to 500)")
    return value


def healthcheck(settings: Settings, args: argparse.Namespace) -> int:
    """Reads the store's health record (no Slack or Rhombus call): 0 healthy, 1 not (one line
    why), 2 the database cannot be opened."""
    from clipbot.health import read_health

    return read_health(settings, now_ms=int(time.time() * 1000))


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "run": run,
    "check": check,
    "clips": clips,
    "poll": poll,
    "audit": audit_trail,
    "healthcheck": healthcheck,
}
