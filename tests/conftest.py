"""Shared fixtures: a small degraded clip made by the example generator, and a CLI runner."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FQ_SHARED", ROOT.parent / "shared"))


def _example_module():
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_example():
    return _example_module()


@pytest.fixture(scope="session")
def clip(tmp_path_factory, make_example) -> tuple[Path, dict]:
    """A 24-frame clip (8 segments × 3 frames at 4 fps) and its segment table."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    make_example.make_clip(path, fps=4, seconds=0.75)
    return path, json.loads(path.with_suffix(".json").read_text())


def segment_of(table: dict, frame: int) -> str:
    return next(s["segment"] for s in table["segments"] if s["first_frame"] <= frame <= s["last_frame"])


@pytest.fixture(scope="session")
def face_photo() -> Path:
    import insightface

    return Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"


def run_cli(*args: str, stdin: str | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`fqselect ARGS` as a user runs it: a separate process, stdout and stderr captured; `env` adds
    environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "fqselect", *map(str, args)],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=300,
        env={**os.environ, **(env or {})},
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_clean_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """A one-line-per-problem error naming the input, and never a traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    stray = [line for line in proc.stderr.splitlines() if line and not line.startswith("fqselect: ")]
    assert not stray, f"lines that are not fqselect's own on stderr: {stray}"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("fqselect: error:")]
    assert errors, proc.stderr
    for fragment in fragments:
        assert any(fragment in line for line in errors), f"{fragment!r} not in:\n{proc.stderr}"
