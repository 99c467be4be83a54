"""Logging set-up: key=value lines or JSON lines, with every secret masked whatever logged it.

Structured fields travel with `extra=` (`log.info("posted", extra={"channel": "C1"})`), or for
every line logged inside `with context(cycle="poll-7", channel="C1"):`. The text format appends
them as `key=value`, the JSON format as members of the line's object.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)
RECALL_S = 300.0  # a failure still going on is recalled in the log at most this often

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


# Never mutated: each context() sets a new dict, so the shared default stays empty.
_CONTEXT: ContextVar[dict[str, object]] = ContextVar("clipbot_log_context", default={})  # noqa: B039


@contextlib.contextmanager
def context(**more: object) -> Iterator[None]:
    """Adds `more` as fields to every line this thread logs inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **more})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def carried(fn: Callable[P, T]) -> Callable[P, T]:
    """`fn`, run in another thread (a pool's) with the caller's log context."""
    here = _CONTEXT.get()

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with context(**here):
            return fn(*args, **kwargs)

    return run


class _ContextFields(logging.Filter):
    """Puts the fields of the logging thread's `context()` on each record it logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record was logged with (`extra=`), in the order given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class RedactSecrets(logging.Filter):
    """Replaces every known secret in a record's text, fields and traceback, so no library can
    leak one."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.scrub(text)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        for key, value in fields(record).items():
            if not isinstance(value, int | float | bool | type(None)):
                setattr(record, key, self.scrub(str(value)))
        return True

    def scrub(self, text: str) -> str:
        """`text` with each secret replaced by `***`, also in its JSON- and repr-escaped forms."""
        for secret in self._secrets:
            for form in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]):
                text = text.replace(form, "***")
        return text


class TextFormatter(logging.Formatter):
    """`time level=… logger=… message key=value…`."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={_text(v)}" for k, v in fields(record).items())
        if not extra:
            return line
        head, newline, rest = line.partition("\n")  # fields stay on the message's line
        return f"{head} {extra}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the record's
    fields, and `exception` (the traceback text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields(record).items():
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class _Scrubbed(logging.Formatter):
    """Masks secrets in the finished line too: the last line of defence, whatever the format."""

    def __init__(self, inner: logging.Formatter, redact: RedactSecrets) -> None:
        super().__init__()
        self._inner, self._redact = inner, redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact.scrub(self._inner.format(record))


def handler(
    secrets: Iterable[str] = (), fmt: str = "text", stream: IO[str] | None = None
) -> logging.Handler:
    """A handler writing to `stream` (stderr) in format `fmt` ("text" or "json"), masking
    `secrets`."""
    redact = RedactSecrets(secrets)
    out = logging.StreamHandler(stream or sys.stderr)
    inner = JsonFormatter() if fmt == "json" else TextFormatter()
    out.setFormatter(_Scrubbed(inner, redact))
    out.addFilter(_ContextFields())
    out.addFilter(redact)
    return out


def configure(level: str, secrets: Iterable[str] = (), fmt: str = "text") -> None:
    """Log to stderr at `level` in format `fmt`, masking `secrets`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(secrets, fmt))
    root.setLevel(level)
    # One line per HTTP request is noise at INFO; DEBUG shows it.
    for chatty in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(chatty).setLevel(level if level == "DEBUG" else "WARNING")


class Streak:
    """A run of failures of one thing (a job, the database's connections): logged to `logger`
    when it starts or changes, recalled at most every `recall_s` seconds while it lasts, and
    once when it ends (`succeeded`), rather than at every failure. `tries`: what one failure
    is called in those lines ("run" of a job, "attempt" to connect). Thread-safe."""

    def __init__(
        self,
        name: str,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        recall_s: float = RECALL_S,
        *,
        logger: logging.Logger | None = None,
        tries: str = "run",
    ) -> None:
        self.name = name
        self._log, self._tries = logger or log, tries
        self._lock = threading.Lock()
        self._monotonic, self._now, self._recall_s = monotonic, now, recall_s
        self.runs = 0  # failed runs in a row
        self._problem = ""
        self._since = ""
        self._said_at = 0.0

    def failed(self, problem: str, exc_info: bool = False) -> None:
        with self._lock:
            self._failed(problem, exc_info)

    def _failed(self, problem: str, exc_info: bool) -> None:
        self.runs += 1
        fields = {"job": self.name, "failed_runs": self.runs}
        if self.runs == 1 or problem != self._problem:
            if self.runs == 1:
                self._since = _clock(self._now())
            self._log.error(
                "%s failing since %s: %s",
                self.name,
                self._since,
                problem,
                exc_info=exc_info,
                extra=fields,
            )
        elif self._monotonic() - self._said_at >= self._recall_s:
            self._log.error(
                "%s still failing since %s (%d %ss in a row): %s",
                self.name,
                self._since,
                self.runs,
                self._tries,
                problem,
                extra=fields,
            )
        else:
            return
        self._problem, self._said_at = problem, self._monotonic()

    def succeeded(self) -> None:
        if not self.runs:
            return  # the usual case, without the lock
        with self._lock:
            if self.runs:
                self._log.info(
                    "%s recovered after %d failed %s(s), failing since %s",
                    self.name,
                    self.runs,
                    self._tries,
                    self._since,
                    extra={"job": self.name},
                )
            self.runs = 0


def _clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if not text or " " in text or '"' in text else text
