"""Batches: many inputs, each written atomically to its own output folder, with resume and overwrite.
This is what the `fqselect` command runs, importable as `fqselect.run_batch`; `select_many` is the same
without output folders."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from .errors import InputError
from .pipeline import process_input
from .results import InputResult, Options, Pick, Progress
from .write import check_free, is_complete, output_names, prepare_out_dir, read_picks, write_result


def run_batch(paths: list[str], options: Options, out: str | Path | None = None, overwrite: bool = False,
              resume: bool = False, workers: int = 1, progress: Progress | None = None,
              on_start: Callable[[str], None] | None = None, cluster: str | None = None,
              isolate: bool | None = None) -> Iterator[InputResult]:
    """Every input's result, in input order, each already written to `out/<name>/` when `out` is given.

    Inputs whose folder is complete are `skipped` with `resume`; an existing folder is never replaced
    without `overwrite` (that input fails, the others run). Every status is reported in the results: a
    batch never raises for one input (UsageError only for an unusable `out`)."""
    out = prepare_out_dir(Path(out)) if out is not None else None
    names = output_names(paths)
    folders = {path: (out / names[path] if out is not None else None) for path in paths}
    prechecked = {path: _precheck(path, folders[path], overwrite, resume) for path in paths}
    running = select_many([p for p in paths if prechecked[p] is None], options, workers, progress, isolate=isolate,
                          on_start=on_start, cluster=cluster)
    for path in paths:
        result = prechecked[path] or next(running)
        if folders[path] is not None and result.status == "ok":
            _write(result, options, folders[path], overwrite)
        yield result


def _precheck(path: str, folder: Path | None, overwrite: bool, resume: bool) -> InputResult | None:
    """A result for inputs that need no work (already done, with resume) or must not run (output exists);
    None for inputs to process. Checked before the work, not after it."""
    if folder is None:
        return None
    if resume and is_complete(folder):  # its picks again, from its manifest: a resumed run's stdout is complete
        picks = [Pick.from_record(record) for record in read_picks(folder)]
        return InputResult(input=path, status="skipped", output_dir=str(folder), picks=picks)
    try:
        check_free(folder, path, overwrite)
    except InputError as error:
        return InputResult(input=path, status="failed", error=error.reason)
    return None


def _write(result: InputResult, options: Options, folder: Path, overwrite: bool) -> None:
    try:
        write_result(result, options, folder, overwrite)
    except (InputError, OSError) as error:
        result.status, result.error = "failed", getattr(error, "reason", None) or f"cannot write output ({error})"


def select_many(paths: list[str], options: Options, workers: int = 1, progress: Progress | None = None,
                isolate: bool | None = None, on_start: Callable[[str], None] | None = None,
                cluster: str | None = None) -> Iterator[InputResult]:
    """`process_input` over many inputs, results in input order. With `isolate` (the default when
    workers > 1; the command isolates every batch of two or more inputs) they run in supervised worker
    processes (`supervise.py`), `workers` of them, each loading the models once: a decoder that crashes on
    one input costs only that input. Otherwise they run here, one after the other, where decoding starts
    while the models load. (Worker processes are spawned: a script that calls this needs the usual
    `if __name__ == "__main__":` guard.) `on_start(path)` is told as each input
    starts (progress displays name the files at work). With `cluster` (a Ray address, or `local`) the
    inputs run on a Ray cluster instead (`cluster.py`, the [ray] extra)."""
    if cluster is not None:
        from .cluster import ray_map

        yield from ray_map(paths, options, cluster, on_start)
        return
    if isolate is None:
        isolate = workers > 1
    if not isolate:
        for path in paths:
            if on_start:
                on_start(path)
            yield process_input(path, options, progress)
        return
    from .supervise import supervised_map

    yield from supervised_map(paths, options, workers, progress, on_start)
