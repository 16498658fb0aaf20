"""The name of each input's output folder: its stem, made distinct whatever the inputs are called."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

MAX_NAME_BYTES = 200  # an output folder's name; file systems allow 255, staging names add ~40


def output_names(inputs: list[str]) -> dict[str, str]:
    """A distinct folder name per input: its stem; a stem longer than MAX_NAME_BYTES is cut and given a
    hash of the input's path, as is every stem two inputs share; a name still taken (a hashed name can
    equal another input's stem) gets a number. Distinct by construction, whatever the inputs are called."""
    stems = {path: (Path(path).stem or Path(path).resolve().name) for path in inputs}
    counts = Counter(stems.values())
    names, taken = {}, set()
    for path, stem in stems.items():
        name = stem if counts[stem] == 1 and _fits(stem) else f"{_cut(stem)}-{_path_hash(path)}"
        numbered, number = name, 1
        while numbered in taken:
            number += 1
            numbered = f"{name}-{number}"
        names[path] = numbered
        taken.add(numbered)
    return names


def _fits(name: str) -> bool:
    return len(os.fsencode(name)) <= MAX_NAME_BYTES


def _cut(name: str, room: int = MAX_NAME_BYTES - 16) -> str:
    """The longest start of `name` that fits in `room` bytes (never half a character)."""
    while len(os.fsencode(name)) > room:
        name = name[:-1]
    return name


def _path_hash(path: str) -> str:
    import hashlib  # only on a clash: loading OpenSSL would delay every run's first frame

    return hashlib.sha1(os.fsencode(str(Path(path).resolve()))).hexdigest()[:8]
