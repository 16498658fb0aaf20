"""Batches: many inputs, each written atomically to its own output folder, with resume and overwrite, run
where the `executor` says: here (`Local`), in supervised worker processes (`Workers`), or on a Ray cluster
(`Ray`). This is what the `fqselect` command runs, importable as `fqselect.run_batch`; `select_many` is
the same without output folders."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol

from ..cores import default_workers
from ..errors import InputError
from ..options import Options
from ..output.manifest import is_complete, read_picks
from ..output.names import output_names
from ..output.write import check_free, prepare_out_dir, write_result
from ..records import InputResult, Pick, Progress
from .job import process_input

Started = Callable[[str], None]  # told each input's path as its analysis starts


class Executor(Protocol):
    def map(self, paths: list[str], options: Options, progress: Progress | None,
            on_start: Started | None) -> Iterator[InputResult]:
        """`process_input` over the paths; results in input order."""


@dataclass(frozen=True)
class Local:
    """In this process, one input after the other: decoding of the first starts while the models load."""

    def map(self, paths, options, progress=None, on_start=None):
        for path in paths:
            if on_start:
                on_start(path)
            yield process_input(path, options, progress)


@dataclass(frozen=True)
class Workers:
    """In `count` supervised worker processes, each loading the models once: a decoder that crashes on
    one input costs only that input. (Workers are spawned: a script using them needs the usual
    `if __name__ == "__main__":` guard.)"""

    count: int = 0  # 0: one a core

    def map(self, paths, options, progress=None, on_start=None):
        from .supervise import supervised_map

        yield from supervised_map(paths, options, self.count or default_workers(), progress, on_start)


@dataclass(frozen=True)
class Ray:
    """On a Ray cluster (the ray extra): `auto`, `ray://host:port`, `host:port`, or `local` for a Ray
    runtime started on this machine."""

    address: str = "local"

    def map(self, paths, options, progress=None, on_start=None):
        from .ray import ray_map

        yield from ray_map(paths, options, self.address, on_start)


def run_batch(paths: list[str], options: Options, out: str | Path | None = None, executor: Executor = Local(),
              overwrite: bool = False, resume: bool = False, progress: Progress | None = None,
              on_start: Started | None = None, run: str | None = None) -> Iterator[InputResult]:
    """Every input's result, in input order, each already written to `out/<name>/` when `out` is given.

    Inputs whose folder is complete are `skipped` with `resume`; an existing folder is never replaced
    without `overwrite` (that input fails, the others run). Every status is reported in the results: a
    batch never raises for one input (UsageError only for an unusable `out`). `run` names the run in the
    manifests (default: a new `run_id()`), with each input's place in the run's order."""
    out = prepare_out_dir(Path(out)) if out is not None else None
    run = run or run_id()
    names = output_names(paths)
    folders = {path: (out / names[path] if out is not None else None) for path in paths}
    prechecked = {path: _precheck(path, folders[path], overwrite, resume) for path in paths}
    running = executor.map([p for p in paths if prechecked[p] is None], options, progress, on_start)
    for position, path in enumerate(paths):
        result = prechecked[path] or next(running)
        result.run, result.position = run, position
        if folders[path] is not None and result.status == "ok":
            result = _write(result, options, folders[path], overwrite, resume)
        yield result


def run_id() -> str:
    """A run's name: when it started (UTC), where and by which process."""
    import datetime
    import socket

    return f"{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}-{socket.gethostname()}-{os.getpid()}"


def select_many(paths: list[str], options: Options, executor: Executor = Local(), progress: Progress | None = None,
                on_start: Started | None = None) -> Iterator[InputResult]:
    """`process_input` over many inputs where `executor` says, results in input order."""
    return executor.map(paths, options, progress, on_start)


def _precheck(path: str, folder: Path | None, overwrite: bool, resume: bool) -> InputResult | None:
    """A result for inputs that need no work (already done, with resume) or must not run (output exists);
    None for inputs to process. Checked before the work, not after it."""
    if folder is None:
        return None
    if resume and is_complete(folder):  # its picks again, from its manifest: a resumed run's stdout is complete
        return skipped(path, folder)
    try:
        check_free(folder, path, overwrite)
    except InputError as error:
        return InputResult(input=path, status="failed", error=error.reason)
    return None


def skipped(path: str, folder: Path) -> InputResult:
    """A complete output folder's input, skipped: its picks from its manifest, their files named as a run
    names them (`folder/name`; the manifest names them relative to itself)."""
    picks = []
    for record in read_picks(folder):
        pick = Pick.from_record(record)
        pick.frame_file = str(folder / pick.frame_file) if pick.frame_file else None
        pick.crop_file = str(folder / pick.crop_file) if pick.crop_file else None
        picks.append(pick)
    return InputResult(input=path, status="skipped", output_dir=str(folder), picks=picks)


def _write(result: InputResult, options: Options, folder: Path, overwrite: bool, resume: bool) -> InputResult:
    """The result written to its folder; where another run (sharing --out, with --resume) completed the
    folder meanwhile, that folder stands and the input is skipped."""
    try:
        write_result(result, options, folder, overwrite)
    except InputError as error:
        if resume and is_complete(folder):
            return skipped(result.input, folder)
        result.status, result.error = "failed", error.reason
    except OSError as error:
        result.status, result.error = "failed", f"cannot write output ({error})"
    return result
