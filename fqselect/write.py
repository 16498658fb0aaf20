"""Stage 6 — writing: per input, one folder with the picked frames, their aligned crops, a manifest and
(optionally) embeddings. The folder is built under a temporary name and renamed into place, so a crash or
Ctrl-C never leaves a half-written output, and a complete manifest means a complete input (`--resume`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .errors import InputError, UsageError
from .results import InputResult, Options

MANIFEST = "manifest.json"
JPEG_QUALITY = 95


def output_names(inputs: list[str]) -> dict[str, str]:
    """A folder name per input: its stem, plus a short hash of its path where two inputs share a stem."""
    stems = {path: (Path(path).stem or Path(path).resolve().name) for path in inputs}
    counts = Counter(stems.values())
    return {path: stem if counts[stem] == 1 else f"{stem}-{_path_hash(path)}" for path, stem in stems.items()}


def _path_hash(path: str) -> str:
    import hashlib  # only on a clash: loading OpenSSL (~3 ms) would delay every run's first frame

    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:6]


def prepare_out_dir(out: Path) -> Path:
    """Create --out and prove it is writable before any work is done."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fqselect-probe-"):
            pass
    except OSError as error:
        raise UsageError(f"{out}: output folder is not writable ({error.strerror or error})") from None
    return out


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def check_free(folder: Path, source: str, overwrite: bool) -> None:
    if folder.exists() and not overwrite:
        raise InputError(source, f"output {folder} exists (use --overwrite to replace it, --resume to skip it)")


def write_result(result: InputResult, options: Options, folder: Path, overwrite: bool) -> None:
    """Write one input's files into `folder` atomically; fills in the picks' file names."""
    check_free(folder, result.input, overwrite)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        for pick in result.picks:
            stem = (f"p{pick.person:02d}_" if pick.person is not None else "") + f"r{pick.rank:02d}_f{pick.frame:06d}"
            pick.frame_file = str(folder / f"{stem}_frame.jpg")
            pick.crop_file = str(folder / f"{stem}_crop.png")
            _imwrite(staging / f"{stem}_frame.jpg", pick.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            _imwrite(staging / f"{stem}_crop.png", pick.crop)
        if result.embedding is not None:
            np.save(staging / "embedding.npy", result.embedding)
            np.save(staging / "embeddings.npy", np.stack([p.embedding for p in result.picks]))
        if options.embeddings:
            for person in result.persons:
                np.save(staging / f"p{person.id:02d}_embedding.npy", person.embedding)
        (staging / MANIFEST).write_text(json.dumps(manifest(result, options), indent=2) + "\n")
        _swap_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.output_dir = str(folder)


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
        **({"persons": [_person_entry(person, result, options) for person in result.persons]} if options.per_person else {}),
    }


def _person_entry(person, result: InputResult, options: Options) -> dict:
    entry = person.record()
    entry["selected"] = [{"frame": p.frame, "time": p.time, "quality": p.quality, "rank": p.rank,
                          "frame_file": p.frame_file, "crop_file": p.crop_file}
                         for p in result.picks if p.person == person.id]
    if options.embeddings:
        entry["embedding_file"] = f"p{person.id:02d}_embedding.npy"
    return entry


def _imwrite(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    ok, data = cv2.imencode(path.suffix, image, params or [])
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    data.tofile(str(path))


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Rename the finished staging folder to its final name, replacing an old output last."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
