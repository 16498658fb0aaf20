"""Stage 6 — writing: per input, one folder with the picked frames, their aligned crops, a manifest and
(optionally) embeddings. The folder is built under a temporary name and renamed into place, so a crash or
Ctrl-C never leaves a half-written output, and a complete manifest means a complete input (`--resume`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
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
    import hashlib  # only on a clash: loading OpenSSL (~3 ms) would delay every run's first frame

    return hashlib.sha1(os.fsencode(str(Path(path).resolve()))).hexdigest()[:8]


def prepare_out_dir(out: Path) -> Path:
    """Create --out and prove it is writable before any work is done."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fqselect-probe-"):
            pass
    except OSError as error:
        raise UsageError(f"{out}: output folder is not writable ({error.strerror or error})") from None
    remove_stale_staging(out)
    return out


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def check_free(folder: Path, source: str, overwrite: bool) -> None:
    if folder.exists() and not overwrite:
        raise InputError(source, f"output {folder} exists (use --overwrite to replace it, --resume to skip it)")


def write_result(result: InputResult, options: Options, folder: Path, overwrite: bool) -> None:
    """Write one input's files into `folder` atomically; fills in the picks' file names."""
    check_free(folder, result.input, overwrite)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}{_writer_mark(STAGING)}-"))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; the finished folder is a normal one
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
        for pick in result.picks:  # nothing was written: no record may name a file
            pick.frame_file = pick.crop_file = None
        raise
    result.output_dir = str(folder)


STAGING, REPLACED = ".tmp-", ".old-"


def _umask() -> int:
    """The process's umask (reading it means setting it: done once, before any worker thread writes)."""
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK


_UMASK: int | None = None


def read_picks(folder: Path) -> list[dict]:
    """The pick records of a complete output folder (--resume re-emits them for the inputs it skips)."""
    try:
        return json.loads((folder / MANIFEST).read_text()).get("faces", [])
    except (OSError, ValueError):
        return []


def _writer_mark(kind: str) -> str:
    """Staging (STAGING) and replaced (REPLACED) folders carry their writer's host and pid, so a later run
    can tell a killed writer's leftovers (removed) from a live one's on a shared --out (left alone)."""
    return f"{kind}{socket.gethostname()}-{os.getpid()}"


def remove_stale_staging(out: Path) -> int:
    """Remove staging folders and replaced outputs left in `out` by runs on this host that were killed
    (SIGKILL, power loss) before they could clean up; how many were removed."""
    removed = 0
    host = socket.gethostname()
    for entry in out.glob(".*"):
        owner = _owner(entry.name, host)
        if owner is not None and not _alive(owner):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _owner(name: str, host: str) -> int | None:
    """The pid that made a staging (`.<name>.tmp-<host>-<pid>-…`) or replaced (`.<name>.old-<host>-<pid>`)
    folder on this host; None for anything else."""
    for mark in (f"{STAGING}{host}-", f"{REPLACED}{host}-"):
        if mark in name:
            pid = name.rsplit(mark, 1)[1].split("-", 1)[0]
            return int(pid) if pid.isdigit() else None
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


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


def _imwrite(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    ok, data = cv2.imencode(path.suffix, image, params or [])
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    data.tofile(str(path))


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Rename the finished staging folder to its final name, replacing an old output last."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}{_writer_mark(REPLACED)}")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
