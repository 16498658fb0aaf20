"""What the command prints: one-line notes, warnings and errors on stderr, progress bars, the picks as a
table, JSON lines or CSV on stdout, and the closing summary.

rich is imported only to draw on a terminal (progress bars, notes printed above them, tables): a run in a
pipeline never loads it, and its import would delay every run's first video."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..records import InputResult


@lru_cache(maxsize=1)
def terminal_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def on_terminal() -> bool:
    """Whether stderr is a terminal (progress bars and rich notes are drawn only there)."""
    return sys.stderr.isatty()


def note(line: str) -> None:
    """One line on stderr, never wrapped (paths stay whole); above the progress bar on a terminal."""
    if on_terminal():
        terminal_console().print(line, markup=False, soft_wrap=True)
    else:
        print(line, file=sys.stderr, flush=True)


def fail(message: str) -> None:
    note(f"fqselect: error: {message}")


def warn(message: str) -> None:
    note(f"fqselect: warning: {message}")


class NoProgress:
    """What `progress_bar` gives when nothing is drawn: the calls the commands make, doing nothing."""

    def __enter__(self) -> "NoProgress":
        return self

    def __exit__(self, *_) -> None:
        pass

    def add_task(self, *_, **__) -> int:
        return 0

    def update(self, *_, **__) -> None:
        pass

    def advance(self, *_, **__) -> None:
        pass


def progress_bar(quiet: bool):
    """rich's progress bars on a terminal's stderr, unless quiet; a NoProgress otherwise."""
    if quiet or not on_terminal():
        return NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=terminal_console(), transient=True,
        redirect_stdout=False,  # rich's default would send JSON lines to the terminal, not to stdout's file
    )


CSV_COLUMNS = ["source", "person", "identity", "similarity", "rank", "frame", "time", "score", "quality", "net_quality",
               "agreement", "set_faces", "eyes_open", "gaze", "mouth_open", "det_score", "x1", "y1", "x2", "y2", "width", "height", "landmarks",
               "scorer", "scorer_version", "frame_file", "crop_file"]


def csv_writer() -> Callable[[dict], None]:
    """--csv: the header now, then a row per pick record (landmarks as JSON: ten numbers in one cell)."""
    import csv

    writer = csv.DictWriter(sys.stdout, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()

    def write(record: dict) -> None:
        (x1, y1, x2, y2), (width, height) = record["bbox"], record.get("frame_size") or (None, None)
        writer.writerow({**record, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "width": width, "height": height,
                         "landmarks": json.dumps(record["landmarks"])})
    return write


def json_line(record: dict) -> None:
    """--jsonl: one pick record a line."""
    sys.stdout.write(json.dumps(record) + "\n")


def report_problem(source: str, status: str, error: str | None) -> None:
    """An input's failure, or its having no face (not a failure: it was read), as one line on stderr."""
    if status == "no_face":
        note(f"fqselect: no face: {source}: {error}")
    elif error:
        fail(f"{source}: {error}")


def report_result(result: InputResult, emit: Callable[[dict], None] | None = None) -> None:
    """The input's warnings and error on stderr, and with `emit` (--jsonl, --csv) its picks on stdout."""
    for message in result.warnings:
        warn(f"{result.input}: {message}")
    report_problem(result.input, result.status, result.error)
    if emit:
        for pick in result.picks:
            emit(pick.record())
        sys.stdout.flush()


def _number(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def print_picks(results: list[InputResult]) -> None:
    """The picks as a table: why each won (score = what it was ranked by; the quality, the network's own,
    the agreement with its set, the eyes, the mouth), and where its file is."""
    with_persons = any(pick.person is not None for r in results for pick in r.picks)
    rows = []
    for result in results:
        for pick in result.picks:
            person = "" if pick.person is None else f"{pick.person}" + (f" ({pick.identity})" if pick.identity else "")
            where = Path(pick.source).name if result.kind == "folder" else f"{pick.frame} ({pick.time:.2f} s)"
            rows.append([result.input, *([person] if with_persons else []), str(pick.rank), where,
                         _number(pick.score, 2), _number(pick.quality, 3), _number(pick.net_quality, 3),
                         _number(pick.agreement, 3), _number(pick.eyes_open, 2), _number(pick.mouth_open, 2),
                         pick.frame_file or ""])
    header = ["input", *(["person"] if with_persons else []), "rank", "frame/photo", "score", "quality", "network",
              "agreement", "eyes", "mouth", "file"]
    print_table(header, rows)


def print_table(header: list[str], rows: list[list[str]], wrap: tuple[str, ...] = ()) -> None:
    """Aligned columns on stdout: rich's table on a terminal; plain text when piped (whole paths, easy to
    cut or awk, and no rich import in a pipeline). Only the columns named in `wrap` (prose) may wrap: a
    path or a name is never split across lines; a table wider than the terminal is drawn at its own width
    (the terminal folds the lines, and a copied path stays whole)."""
    if not rows:
        return
    if not sys.stdout.isatty():
        widths = [max(map(len, column)) for column in zip(header, *rows)]
        for row in (header, *rows):
            sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    table = Table(box=None)
    for name in header:
        table.add_column(name, no_wrap=name not in wrap, overflow="fold" if name in wrap else "ignore")
    for row in rows:
        table.add_row(*row)
    unwrapped = sum(max(len(c) for c in column) + 2 for name, column in zip(header, zip(header, *rows)) if name not in wrap)
    needed = unwrapped + sum(24 for name in header if name in wrap)
    if needed > console.width:
        console = Console(highlight=False, width=needed)
    console.print(table, crop=False)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 frame`, `2 frames`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def summary(results: list[InputResult], quiet: bool, seconds: float) -> None:
    """One line on stderr at the end of a run: the inputs by status, what was read and analysed, the faces
    and persons; then each input's notes (fewer picks than asked, and why); then, for a batch, the
    failures again, together, so that a long batch's are not scrolled away."""
    if quiet:
        return
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "no_face", "failed")}
    videos = [r for r in results if r.kind == "video"]
    stills = [r for r in results if r.kind in ("folder", "image")]
    parts = [f"{counted(len(results), 'input')}: {counts['ok']} ok, {counts['skipped']} skipped, "
             f"{counts['no_face']} without a face, {counts['failed']} failed"]
    if videos:
        total = sum(r.frames_total for r in videos)
        regions = sum(r.regions_analysed for r in videos)
        parts.append(f"{counted(len(videos), 'video')}: " + (f"{counted(total, 'frame')}, " if total else "")
                     + f"{sum(r.frames_decoded for r in videos)} decoded, {sum(r.frames_analysed for r in videos)} "
                     f"searched whole" + (f", {counted(regions, 'face region')} searched again" if regions else ""))
    if stills:
        parts.append(counted(sum(r.frames_decoded for r in stills), "photo"))
    persons = sum(len(r.persons) for r in results)
    faces = counted(sum(r.faces_seen for r in results), "face")
    if persons:
        faces += f", {counted(persons, 'person')}"
    embedded = sum(r.faces_embedded for r in results)
    if embedded:
        faces += f" ({counted(embedded, 'face')} embedded)"
    note("fqselect: " + "; ".join([*parts, faces, f"{seconds:.1f} s"]))
    for result in results:
        for message in result.notes:
            note(f"fqselect: note: {result.input}: {message}")
    if len(results) > 1:
        for result in results:
            if result.status in ("failed", "no_face"):
                note(f"fqselect:   {'no face' if result.status == 'no_face' else 'failed'} {result.input}: {result.error}")
