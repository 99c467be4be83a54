"""A throwaway PostgreSQL server for the test session: initdb and pg_ctl in a temporary folder.

The binaries come from Debian's `postgresql` package, installed with apt-get when they are
missing and the tests run as root (as CI does on a clean machine). PostgreSQL refuses to run as
root, so then the cluster belongs to an unprivileged user and its commands run through runuser.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

# Speed over durability: the cluster is thrown away after the session.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    " -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
)


def binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres; installs Debian's package if need be."""
    found = _find_binaries()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "check": True}
        subprocess.run(["apt-get", "update", "-qq"], **quiet)  # type: ignore[call-overload]
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            **quiet,  # type: ignore[arg-type]
        )
        found = _find_binaries()
    if found is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    return found


def _find_binaries() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    on_path = shutil.which("initdb")
    for initdb in [*candidates, *([on_path] if on_path else [])]:
        folder = Path(os.path.realpath(initdb)).parent
        if (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    return None


class Cluster:
    """A PostgreSQL server in a temporary folder, on a free loopback port; stop() and start()
    take it away and bring it back on the same port (for outage tests)."""

    def __init__(self) -> None:
        self.bin_dir = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="clipbot-pg-"))
        self.user = _run_as()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://clipbot@127.0.0.1:{self.port}/postgres"
        init = ("-D", self.data, "-U", "clipbot", "-A", "trust", "--no-sync")
        _as(self.user, self.bin_dir / "initdb", *init)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} {SERVER_OPTIONS}"
        log = self.root / "log"
        _as(
            self.user,
            self.bin_dir / "pg_ctl",
            "-D",
            self.data,
            "-l",
            log,
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stops the server, cutting every connection ("fast" keeps what was committed; with
        synchronous_commit off, "immediate" may not)."""
        if (self.data / "postmaster.pid").exists():
            _as(self.user, self.bin_dir / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """A running server for the duration."""
    server = Cluster()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def _as(user: str | None, *args: str | Path) -> None:
    """Runs a PostgreSQL program, as `user` when given."""
    command = [str(arg) for arg in args]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run_as() -> str | None:
    """Who owns the cluster: None for ourselves, or an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root with neither a postgres nor a nobody user")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fresh_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + f"/{name}"
