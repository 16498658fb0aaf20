"""On a terminal, the inputs bar advances as each input finishes (rendered by rich to a fake terminal)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from fqselect.cli import app, render


def test_the_inputs_bar_advances_to_the_number_of_inputs(monkeypatch, face_photo, tmp_path):
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, highlight=False)
    monkeypatch.setattr(render, "on_terminal", lambda: True)
    monkeypatch.setattr(render, "terminal_console", lambda: console)
    missing = tmp_path / "gone.jpg"
    with pytest.raises(SystemExit) as done:
        app([str(face_photo), str(face_photo), str(missing), "--top", "1", "--workers", "1", "--jsonl"])
    assert done.value.code == 1  # the missing input
    counts = [tuple(map(int, m)) for m in re.findall(r"(\d+)/(\d+)", screen.getvalue()) if m[1] == "3"]
    assert counts and counts[-1] == (3, 3), screen.getvalue()[-2000:]  # it stayed at 0/3 when the bar never moved
