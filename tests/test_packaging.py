"""Packaging: the Dockerfile's install step and the systemd units, tested as far as this machine
can (no Docker daemon here: the image itself is not built)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
UNITS = sorted((ROOT / "deploy").glob("clipbot*.*"))


def instructions(name: str) -> list[str]:
    """The arguments of every `NAME` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


class TestDockerfile:
    def test_shape(self) -> None:
        """Slim Python base, a non-root user, the SQLite file in a volume, the health check."""
        assert re.fullmatch(r"python:3\.1[1-9]-slim", instructions("FROM")[0])
        assert instructions("USER") == ["clipbot"]
        assert instructions("VOLUME") == ['["/data"]']
        assert "CLIPBOT_DATABASE_URL=sqlite:////data/clipbot.db" in instructions("ENV")[1]
        assert instructions("HEALTHCHECK")[0].endswith("CMD clipbot healthcheck || exit 1")
        assert instructions("ENTRYPOINT") == ['["clipbot"]'] and instructions("CMD") == ['["run"]']

    def test_install_step_builds_the_whole_package(self, tmp_path: Path) -> None:
        """What the Dockerfile copies in builds a wheel holding every clipbot module and the
        `clipbot` command (the same `pip` step as the image, without the dependencies)."""
        src = tmp_path / "src"
        src.mkdir()
        for copy in instructions("COPY"):
            *sources, _ = copy.split()
            for source in sources:
                path = ROOT / source
                target = src / source
                if path.is_dir():
                    shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(path, target)
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), "."],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert built.returncode == 0, built.stderr
        (wheel,) = tmp_path.glob("clipbot-*.whl")
        names = set(zipfile.ZipFile(wheel).namelist())
        modules = {str(p.relative_to(ROOT)) for p in (ROOT / "clipbot").rglob("*.py")}
        assert modules - names == set()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "clipbot = clipbot.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()

    def test_dockerignore_lets_the_copied_files_in(self) -> None:
        """The build context keeps exactly what COPY needs."""
        ignore = (ROOT / ".dockerignore").read_text().splitlines()
        assert "*" in ignore
        for copy in instructions("COPY"):
            *sources, _ = copy.split()
            assert [
                s for s in sources if f"!{s.rstrip('/')}" not in [i.rstrip("/") for i in ignore]
            ] == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts every unit in deploy/ without a warning (the venv path
    pointed at this checkout's clipbot)."""
    clipbot = shutil.which("clipbot", path=str(Path(sys.executable).parent)) or sys.executable
    for unit in UNITS:
        text = unit.read_text().replace("/opt/clipbot/venv/bin/clipbot", clipbot)
        (tmp_path / unit.name).write_text(text)
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{u.name}" for u in UNITS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (checked.returncode, checked.stderr) == (0, "")
    assert [u.name for u in UNITS] == [
        "clipbot-healthcheck.service",
        "clipbot-healthcheck.timer",
        "clipbot-restart.service",
        "clipbot.service",
    ]
