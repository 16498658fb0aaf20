"""Writing: per input, one folder with the picked frames, their aligned crops, a manifest and (optionally)
embeddings. The folder is built under a temporary name and renamed into place, so a crash or Ctrl-C never
leaves a half-written output, and a complete manifest means a complete input (`--resume`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, UsageError
from ..options import Options
from ..records import InputResult
from .manifest import MANIFEST, manifest

JPEG_QUALITY = 95


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
