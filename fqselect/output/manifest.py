"""`manifest.json`: what one input's output folder holds, as JSON (a complete manifest means a complete
folder: `--resume` skips it)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import __version__
from ..options import Options
from ..records import InputResult

MANIFEST = "manifest.json"


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def read_picks(folder: Path) -> list[dict]:
    """The pick records of a complete output folder (--resume re-emits them for the inputs it skips)."""
    try:
        return json.loads((folder / MANIFEST).read_text()).get("faces", [])
    except (OSError, ValueError):
        return []


def manifest(result: InputResult, options: Options) -> dict:
    return {
        "fqselect_version": __version__,
        "input": result.input,
        "kind": result.kind,
        "options": {k: v for k, v in vars(options).items()},
        "frames_decoded": result.frames_decoded,
        "frames_analysed": result.frames_analysed,
        "face_regions_analysed": result.regions_analysed,
        "faces_seen": result.faces_seen,
        "warnings": result.warnings,
        "embedding_file": "embedding.npy" if result.embedding is not None else None,
        "faces": [p.record() for p in result.picks],
        "timeline": result.timeline,
        **({"persons": [_person_entry(person, result, options) for person in result.persons]} if options.per_person else {}),
    }


def _person_entry(person, result: InputResult, options: Options) -> dict:
    entry = person.record()
    entry["selected"] = [{"frame": p.frame, "time": p.time, "quality": p.quality, "eyes_open": p.eyes_open, "rank": p.rank,
                          "frame_file": p.frame_file, "crop_file": p.crop_file}
                         for p in result.picks if p.person == person.id]
    if options.embeddings:
        entry["embedding_file"] = f"p{person.id:02d}_embedding.npy"
    return entry
