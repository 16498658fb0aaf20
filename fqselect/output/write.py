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
from ..records import FRAME_JPEG_QUALITY, InputResult
from .manifest import MANIFEST, embedding_groups, manifest


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


def pick_stem(pick, kind: str) -> str:
    """A pick's file names' common part: its person (`p00_`), its rank, and its frame number in a video, or
    the photo's own name in a folder or a single image."""
    where = f"f{pick.frame:06d}" if kind in ("video", "stream") else Path(pick.source).stem
    return (f"p{pick.person:02d}_" if pick.person is not None else "") + f"r{pick.rank:02d}_{where}"


def write_result(result: InputResult, options: Options, folder: Path, overwrite: bool) -> None:
    """Write one input's files into `folder` atomically; fills in the picks' file names (as `folder/name`:
    the manifest names them relative to itself)."""
    check_free(folder, result.input, overwrite)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}{_writer_mark(STAGING)}-"))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it 0700; the finished folder is a normal one
    try:
        for pick in result.picks:
            stem = pick_stem(pick, result.kind)
            pick.frame_file = str(folder / f"{stem}_frame.jpg")
            pick.crop_file = str(folder / f"{stem}_crop.png")
            if pick.frame_jpeg is not None:  # held compressed (at the same quality): written as it is
                (staging / f"{stem}_frame.jpg").write_bytes(pick.frame_jpeg)
            else:
                _imwrite(staging / f"{stem}_frame.jpg", pick.image, [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])
            _imwrite(staging / f"{stem}_crop.png", pick.crop)
        if options.embeddings:
            for prefix, template, picks in embedding_groups(result):
                np.save(staging / f"{prefix}embedding.npy", template)
                np.save(staging / f"{prefix}embeddings.npy", np.stack([p.embedding for p in picks]))
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


def write_text_atomically(path: Path, text: str) -> None:
    """A small file replaced whole (written beside it, then renamed): a reader never sees half of it."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    os.replace(handle.name, path)


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
