"""The life of a `clipbot run` process: signals in, the bot built, started, waited on, closed.

Everything the bot is made of is built by clipbot.bot; this module only turns SIGTERM/SIGINT
into a stop, guards the stop with a watchdog, and turns failures into exit codes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading

from clipbot.bot import StartFailed, build
from clipbot.config import ConfigError, Settings
from clipbot.stopping import Stop, Stopped

log = logging.getLogger(__name__)


def run_bot(settings: Settings, stop: Stop | None = None) -> int:
    """`clipbot run`: serves Slack and polls until SIGTERM/SIGINT (or `stop` is set), then
    stops within the grace (see clipbot.stopping). The exit code: 0 clean stop, 1 credentials
    refused or Slack or the database unreachable at start, 2 bad configuration."""
    stop = stop or _stop_on_signals()
    stop.install_urllib_opener()  # Slack calls in flight are cut by the stop too
    done = threading.Event()
    stop.watchdog(done)
    try:
        return _run(settings, stop)
    finally:
        done.set()


def _run(settings: Settings, stop: Stop) -> int:
    try:
        bot = build(settings, stop=stop)
    except ConfigError as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return 2
    except StartFailed as exc:  # the database does not answer: a restart may do
        print(f"clipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        problem = bot.credentials_problem()
        if problem:
            print(f"clipbot: {problem}", file=sys.stderr)
            return 1
        bot.start()
        stop.wait()
        log.info("stopping")
        bot.close()
        log.info("stopped")
        return 0
    except StartFailed as exc:
        print(f"clipbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except Stopped:
        log.info("stopped while starting")
        return 0
    finally:
        bot.close()


def _stop_on_signals() -> Stop:
    """A stop that SIGTERM/SIGINT set. The handler runs in the main thread between two bytecodes,
    perhaps while that thread holds a lock `Stop.set()` takes, so it only writes a byte to a pipe;
    a relay thread reads it and sets the stop."""
    stop = Stop()
    wake, woken = os.pipe()
    os.set_blocking(woken, False)

    def relay() -> None:
        os.read(wake, 1)
        stop.set()

    def handle(signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # the pipe is full: a stop is on its way already
            os.write(woken, b"s")

    threading.Thread(target=relay, name="signals", daemon=True).start()
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop
