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


def embedding_groups(result: InputResult) -> list[tuple[str, object, list]]:
    """(file prefix, template, picks) of each group that has a template: the input's (`embedding.npy`,
    `embeddings.npy`), or each person's (`p00_embedding.npy`, `p00_embeddings.npy`)."""
    if result.persons:
        return [(f"p{person.id:02d}_", person.embedding, [p for p in result.picks if p.person == person.id])
                for person in result.persons if person.embedding is not None]
    return [("", result.embedding, result.picks)] if result.embedding is not None else []


def _relative(record: dict) -> dict:
    """A pick's record with its files named relative to the manifest beside them."""
    return {**record, **{key: Path(record[key]).name for key in ("frame_file", "crop_file") if record.get(key)}}


def manifest(result: InputResult, options: Options) -> dict:
    """What the input's folder holds; every path in it is relative to the manifest, so the folder can be
    moved or read from anywhere."""
    embedded = result.embedding is not None and not result.persons
    return {
        "fqselect_version": __version__,
        "input": result.input,
        "kind": result.kind,
        "run": result.run,
        "position": result.position,
        "options": {k: v for k, v in vars(options).items()},
        "frames_decoded": result.frames_decoded,
        "frames_analysed": result.frames_analysed,
        "face_regions_analysed": result.regions_analysed,
        "faces_seen": result.faces_seen,
        "warnings": result.warnings,
        "notes": result.notes,
        "embedding_file": "embedding.npy" if embedded else None,
        "embeddings_file": "embeddings.npy" if embedded else None,
        "faces": [_relative(p.record()) for p in result.picks],
        "timeline": result.timeline,
        **({"persons": [_person_entry(person, result, options) for person in result.persons]} if options.per_person else {}),
    }


def _person_entry(person, result: InputResult, options: Options) -> dict:
    entry = person.record()
    entry["selected"] = [_relative({"frame": p.frame, "time": p.time, "score": p.score, "quality": p.quality,
                                    "eyes_open": p.eyes_open, "gaze": p.gaze, "mouth_open": p.mouth_open, "rank": p.rank,
                                    "frame_file": p.frame_file, "crop_file": p.crop_file})
                         for p in result.picks if p.person == person.id]
    if options.embeddings:
        entry["embedding_file"] = f"p{person.id:02d}_embedding.npy"
        entry["embeddings_file"] = f"p{person.id:02d}_embeddings.npy"
    return entry
