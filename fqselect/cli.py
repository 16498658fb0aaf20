"""The `fqselect` command: a thin layer over the Python API (argument parsing, progress, output)."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional

import typer
from typer.core import TyperGroup

from . import __version__, research
from .defaults import (DEFAULT_DETECTOR, DEFAULT_EYES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, DEFAULT_MIN_GAP, DEFAULT_NETWORK,
                       DEFAULT_PROVIDER, DEFAULT_SCORER, DEFAULT_TOP, DEFAULT_WINDOW, default_workers, usable_cores)
from .errors import NO_FACE_REASON, ExitCode, FQError, UsageError
from .guard import name_input
from .runtime import keep_freed_memory, set_provider, silence_native_stderr

if TYPE_CHECKING:
    from .results import InputResult

# Only light modules above: numpy, OpenCV and the stages load inside the commands, so `--help` is instant.

EXIT_CODES_HELP = (
    "Exit codes: 0 every input gave a selection; 1 some input failed or was only partly readable (the "
    "others were still processed); 2 usage error (bad option, no input, unwritable --out, missing model or "
    "gallery); 3 no input failed but some had no face (or none above --min-quality); 70 internal error (a "
    "bug); 130 interrupted."
)


class ReaderLeft(Exception):
    """stdout's reader closed the pipe (`fqselect ... | head -1`)."""


def _bare_ray(args: list[str]) -> list[str]:
    """`--ray` with no address means a Ray runtime on this machine: click options need a value, so a
    `--ray` not followed by something address-like gets `local`."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray":
            following = args[i + 1] if i + 1 < len(args) else ""
            if not (following in ("auto", "local") or "://" in following or re.fullmatch(r"[\w.-]+:\d+", following)):
                out.append("local")
    return out


class DefaultToSelect(TyperGroup):
    """`fqselect VIDEO ...` means `fqselect select VIDEO ...`: anything that is not a subcommand."""

    def parse_args(self, ctx, args):
        root_options = ("--help", "-h", "--version", "--install-completion", "--show-completion")
        if args and args[0] not in self.commands and args[0] not in root_options:
            args = ["select", *args]
        args = _bare_ray(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # any command's stdout; as an OSError, click would turn it into exit 1
            raise ReaderLeft() from None


app = typer.Typer(
    cls=DefaultToSelect,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Pick the best face frames from videos, image folders and image lists.\n\n"
    "  fqselect VIDEO|FOLDER|IMAGE|- ... [--top 3] [--out DIR] [--jsonl] [--embeddings]\n\n" + EXIT_CODES_HELP,
)


def _version(value: bool):
    if value:
        typer.echo(f"fqselect {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")):
    pass


PATH_MAX = 4096  # bytes; a longer "path" on stdin is data piped in by mistake


def folder_or_file(path: str) -> list[str]:
    """`fqselect score`'s inputs: a folder stands for its images (as a folder input's are: sorted, by
    suffix), anything else for itself."""
    if os.path.isdir(path):
        from .decode import folder_images

        return [str(image) for image in folder_images(Path(path))]
    return [path]


def expand_inputs(inputs: Iterable[str], null: bool = False) -> list[str]:
    """Paths as given; `-` stands for the paths on standard input: one per line (surrounding blanks
    dropped), or with `null` NUL-separated and taken exactly (`find -print0`: names with newlines or
    blanks). UsageError when standard input holds binary data, such as a video piped in by mistake."""
    paths: list[str] = []
    for item in inputs:
        if item != "-":
            paths.append(item)
            continue
        data = sys.stdin.buffer.read()
        chunks = data.split(b"\0") if null else data.splitlines()
        if (not null and b"\0" in data) or any(len(chunk) > PATH_MAX for chunk in chunks):
            raise UsageError("standard input holds binary data, not paths (give the file as an argument, "
                             "or paths one per line, or NUL-separated with -0)")
        for chunk in chunks:
            name = chunk.decode(sys.getfilesystemencoding(), "surrogateescape")  # any name the OS allows
            if null and name:
                paths.append(name)
            elif not null and name.strip():
                paths.append(name.strip())
    return paths


def limit_image_pixels(max_pixels: int) -> None:
    """--max-pixels: OpenCV reads its cap from the environment once, when it loads, so it is set here,
    before anything imports OpenCV (spawned workers inherit it)."""
    if "cv2" in sys.modules and os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS") != str(max_pixels):
        raise UsageError("--max-pixels must be set before OpenCV loads")  # only an embedding host can do this
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(max_pixels)


def check_finite(**values: float | None) -> None:
    """UsageError naming the option when a number is NaN or infinite (typer accepts both as floats)."""
    for name, value in values.items():
        if value is not None and not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')} {value}: expected a finite number")


# rich is imported only to draw on a terminal (progress bars, notes printed above them, tables): a run in a
# pipeline never loads it, and its import (~40 ms) would otherwise delay every run's first video.


@lru_cache(maxsize=1)
def terminal_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def note(line: str) -> None:
    """One line on stderr, never wrapped (paths stay whole); above the progress bar on a terminal."""
    if sys.stderr.isatty():
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
    if quiet or not sys.stderr.isatty():
        return NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=terminal_console(), transient=True,
        redirect_stdout=False,  # rich's default would send JSON lines to the terminal, not to stdout's file
    )


def announce_scorer(scorer_option: str, scorer_name: str) -> None:
    """A warning, even with --quiet (a pipeline must not get weaker picks unannounced), when `auto` finds
    no trained network."""
    from .score import available_networks

    if scorer_option == DEFAULT_SCORER and DEFAULT_NETWORK not in available_networks():
        warn(f"no trained quality network in weights/ ({DEFAULT_NETWORK}.onnx); scoring with the perceptual "
             f"'{scorer_name}' scorer")


@app.command("select", epilog=EXIT_CODES_HELP)
def select_command(
    inputs: list[str] = typer.Argument(..., help="Videos, image folders (one template each), images, or - to read paths from stdin."),
    top: int = typer.Option(DEFAULT_TOP, "--top", "-k", min=1, help="Faces to pick per input.", rich_help_panel="Selection"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write frames, aligned crops and manifest.json per input here.", rich_help_panel="Output"),
    jsonl: bool = typer.Option(False, "--jsonl", help="One JSON object per picked face on stdout.", rich_help_panel="Output"),
    csv_out: bool = typer.Option(False, "--csv", help="CSV on stdout instead: a header, then one row per picked face.", rich_help_panel="Output"),
    embeddings: bool = typer.Option(False, "--embeddings", help="Also write the quality-weighted mean embedding (needs --out).", rich_help_panel="Output"),
    report: bool = typer.Option(False, "--report", help="Also write report.html (opens from disk) and contact_sheet.png into --out.", rich_help_panel="Output"),
    sheet: bool = typer.Option(False, "--sheet", help="Also write contact_sheet.png (the picked crops, a row per input or person) into --out.", rich_help_panel="Output"),
    min_quality: float = typer.Option(0.0, "--min-quality", min=0.0, max=1.0, help="Never pick faces below this quality.", rich_help_panel="Selection"),
    eyes: str = typer.Option(DEFAULT_EYES, "--eyes", help="prefer: rank faces by quality, open eyes first among faces within about 0.01 of each other; any: by quality alone; open: by quality × eye openness (every pick's eyes_open), so closed, winking and downcast eyes come after open ones of similar quality (gallery enrollment).", rich_help_panel="Selection"),
    min_gap: float = typer.Option(DEFAULT_MIN_GAP, "--min-gap", min=0.0, help="Seconds between picks from one video.", rich_help_panel="Selection"),
    min_face: int = typer.Option(0, "--min-face", min=0, help="Ignore faces whose box is smaller than this many pixels.", rich_help_panel="Selection"),
    every: int = typer.Option(1, "--every", min=1, help="Analyse every Nth video frame.", rich_help_panel="Sampling (videos)"),
    fps: Optional[float] = typer.Option(None, "--fps", min=0.001, help="Analyse at most this many frames per second of video.", rich_help_panel="Sampling (videos)"),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Analyse at most this many frames per video.", rich_help_panel="Sampling (videos)"),
    start: float = typer.Option(0.0, "--start", min=0.0, help="Start time in seconds (by timestamp; seeks, does not decode what comes before).", rich_help_panel="Sampling (videos)"),
    end: Optional[float] = typer.Option(None, "--end", min=0.0, help="End time in seconds (by timestamp).", rich_help_panel="Sampling (videos)"),
    exhaustive: bool = typer.Option(False, "--exhaustive", help="Run the detector on every frame, not only on the sharpest frame(s) of each --window.", rich_help_panel="Sampling (videos)"),
    keyframes: bool = typer.Option(False, "--keyframes", help="Decode keyframes only, at most two a --window: many times faster on huge archives, lossy (an IP camera's keyframe a second; x264's default can be 10 s apart). With --window 10: ~9x a decode-only loop on long camera streams.", rich_help_panel="Sampling (videos)"),
    window: float = typer.Option(DEFAULT_WINDOW, "--window", min=0.01, help="Seconds of video per pre-screening window (windows follow each other from --start): its sharpest frame goes to the detector.", rich_help_panel="Sampling (videos)"),
    per_person: bool = typer.Option(False, "--per-person", help="Link faces into persons and pick the TOP best of each person.", rich_help_panel="Selection"),
    gallery: Optional[Path] = typer.Option(None, "--gallery", help="Known people as <name>/<images>: label each person (implies --per-person).", rich_help_panel="Selection"),
    match_threshold: Optional[float] = typer.Option(None, "--match-threshold", min=-1.0, max=1.0, help="Cosine a person needs to take a gallery name (default: the recogniser's FMR 1e-3 point, 0.38 for SFace).", rich_help_panel="Selection"),
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", help="retinaface, yunet, or scrfd (needs --model-pack).", rich_help_panel="Models"),
    det_size: int = typer.Option(DEFAULT_MAX_SIDE, "--det-size", min=64, help="Longer side frames are shrunk to for detection.", rich_help_panel="Models"),
    scorer: str = typer.Option(DEFAULT_SCORER, "--scorer", help="auto (trained network), a network in weights/, blur, pose, jpeg, combined, size, detector, random, or an .onnx path.", rich_help_panel="Models"),
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="insightface model pack NAME or PATH on disk (SCRFD detector, ArcFace embeddings).", rich_help_panel="Models"),
    provider: str = typer.Option(DEFAULT_PROVIDER, "--provider", help="onnxruntime execution provider: auto (CUDA when this onnxruntime has it), cpu, cuda.", rich_help_panel="Models"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing outputs.", rich_help_panel="Output"),
    resume: bool = typer.Option(False, "--resume", help="Skip inputs whose output folder is already complete.", rich_help_panel="Batch"),
    ray: Optional[str] = typer.Option(None, "--ray", metavar="[ADDRESS]", help="Run the inputs on a Ray cluster: auto, ray://host:port, host:port, or nothing for a Ray runtime on this machine (the [ray] extra).", rich_help_panel="Batch"),
    workers: int = typer.Option(default_workers(), "--workers", "-j", min=1, help="Inputs processed in parallel (processes); default: one a core.", rich_help_panel="Batch"),
    null: bool = typer.Option(False, "--null", "-0", help="Paths on stdin (-) are NUL-separated, as find -print0 writes them.", rich_help_panel="Input"),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", min=1, help="Refuse images (and videos whose frames are) larger than this many pixels, checked from the header before decoding (default: four 8K frames).", rich_help_panel="Input"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary on stderr (warnings and errors still go there).", rich_help_panel="Output"),
):
    """Pick the TOP best faces of each input.

    Examples:

      fqselect clip.mp4 --top 3 --out picks --report     (then open picks/report.html)

      find /archive -name '*.mp4' -print0 | fqselect - -0 --jsonl --out picks --resume > picks.jsonl

      fqselect cctv.mp4 --per-person --gallery known_people/ --csv > persons.csv
    """
    limit_image_pixels(max_pixels)
    check_finite(min_quality=min_quality, min_gap=min_gap, fps=fps, start=start, end=end, window=window,
                 match_threshold=match_threshold)
    paths = expand_inputs(inputs, null)
    if not paths:
        raise UsageError("no inputs (give paths, or - with paths on stdin)")
    if len(paths) == 1:  # runs in this process (batches are isolated per input by their workers)
        name_input(paths[0])
    if embeddings and out is None:
        raise UsageError("--embeddings writes .npy files: give --out DIR")
    if csv_out and jsonl:
        raise UsageError("--csv and --jsonl both write to stdout: choose one")
    if (report or sheet) and out is None:
        raise UsageError("--report and --sheet write into the output folder: give --out DIR")
    if end is not None and end <= start:
        raise UsageError(f"--end {end} must be after --start {start}")
    from .batch import run_batch
    from .pipeline import check_models
    from .results import Options
    from .write import prepare_out_dir

    options = Options(top=top, min_quality=min_quality, min_gap=min_gap, min_face=min_face, every=every, fps=fps,
                      max_frames=max_frames, start=start, end=end, detector=detector, det_size=det_size, scorer=scorer,
                      eyes=eyes, model_pack=model_pack, embeddings=embeddings, exhaustive=exhaustive, keyframes=keyframes,
                      window=window, per_person=per_person or gallery is not None, gallery=str(gallery) if gallery else None,
                      match_threshold=match_threshold)
    set_provider(provider)
    if out is not None:
        prepare_out_dir(out)  # before any model loads: an unwritable --out is a usage error at once
    announce_scorer(scorer, check_models(options))  # models load with the first input, as it decodes
    started = time.perf_counter()
    results = []
    with progress_bar(quiet) as progress:
        overall = progress.add_task("inputs", total=len(paths))
        frames_task = progress.add_task("frames", total=None, visible=workers <= 1)
        on_frame = lambda done, planned: progress.update(frames_task, completed=done, total=planned)  # noqa: E731
        at_work: list[str] = []  # the files being analysed now, named on the inputs bar

        def on_start(path: str) -> None:
            at_work.append(path)
            progress.update(overall, description=_names(at_work))
        emit = csv_writer() if csv_out else json_line if jsonl else None
        try:
            for result in run_batch(paths, options, out, overwrite, resume, workers, on_frame, on_start, cluster=ray,
                                    isolate=len(paths) > 1):
                if result.input in at_work:
                    at_work.remove(result.input)
                    progress.update(overall, description=_names(at_work))
                results.append(result)
                _report(result, emit)
                result.drop_pixels()  # written and reported: the table needs only the records
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; {len(results)} of {len(paths)} inputs complete"
                              + (" (rerun with --resume to skip them)" if out is not None and results else "")) from None
            progress.advance(overall)
    if not (jsonl or csv_out) and results:
        _print_table(results)
    if out is not None:
        _write_report(out, results, report, sheet)
    _summary(results, quiet, time.perf_counter() - started)
    raise typer.Exit(exit_code(results))


def _write_report(out: Path, results: list[InputResult], report: bool, sheet: bool) -> None:
    """failures.jsonl always (the report's index reads it), and with --report the page and the sheet,
    with --sheet the sheet alone."""
    from .report import build_report, write_failures

    write_failures(out, results)
    if report or sheet:
        for path in build_report(out, sheet_only=not report):
            note(f"fqselect: wrote {path}")


def _names(paths: list[str], width: int = 40) -> str:
    """The files at work, by name, cut to fit the progress line."""
    text = ", ".join(Path(p).name for p in paths) or "inputs"
    return text if len(text) <= width else text[: width - 1] + "…"


class Interrupted(Exception):
    """Ctrl-C during a batch, with how far it got (click would turn a KeyboardInterrupt into a silent 130)."""


def exit_code(results: list[InputResult]) -> ExitCode:
    """1 when an input failed or was only partly read; else 3 when one had no face; else 0."""
    if any(r.status == "failed" or r.warnings for r in results):
        return ExitCode.INPUT_FAILED
    return ExitCode.NO_FACE if any(r.status == "no_face" for r in results) else ExitCode.OK


CSV_COLUMNS = ["source", "person", "identity", "similarity", "rank", "frame", "time", "quality", "eyes_open", "det_score",
               "x1", "y1", "x2", "y2", "width", "height", "landmarks", "scorer", "scorer_version", "frame_file", "crop_file"]


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


def _report(result: InputResult, emit: Callable[[dict], None] | None = None) -> None:
    """The input's warnings and error on stderr, and with `emit` (--jsonl, --csv) its picks on stdout."""
    for message in result.warnings:
        warn(f"{result.input}: {message}")
    if result.status == "no_face":
        note(f"fqselect: no face: {result.input}: {result.error}")
    elif result.error:
        fail(f"{result.input}: {result.error}")
    if emit:
        for pick in result.picks:
            emit(pick.record())
        sys.stdout.flush()


def _print_table(results: list[InputResult]) -> None:
    with_persons = any(pick.person is not None for r in results for pick in r.picks)
    with_eyes = any(pick.eyes_open is not None for r in results for pick in r.picks)
    rows = []
    for result in results:
        for pick in result.picks:
            person = "" if pick.person is None else f"{pick.person}" + (f" ({pick.identity})" if pick.identity else "")
            frame = Path(pick.source).name if result.kind == "folder" else str(pick.frame)  # a folder's photo by name
            rows.append([result.input, *([person] if with_persons else []), str(pick.rank), frame,
                         f"{pick.time:.2f}", f"{pick.quality:.3f}",
                         *([f"{pick.eyes_open:.2f}" if pick.eyes_open is not None else ""] if with_eyes else []),
                         pick.scorer, pick.frame_file or ""])
    header = ["input", *(["person"] if with_persons else []), "rank", "frame/image", "time", "quality",
              *(["eyes"] if with_eyes else []), "scorer", "file"]
    print_table(header, rows)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Aligned columns on stdout: rich's table on a terminal; plain text when piped (whole paths, easy to
    cut or awk, and no rich import in a pipeline)."""
    if not rows:
        return
    if not sys.stdout.isatty():
        widths = [max(map(len, column)) for column in zip(header, *rows)]
        for row in (header, *rows):
            sys.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    for name in header:
        table.add_column(name, overflow="fold")  # a narrow terminal wraps a path; it never cuts it
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)


def _summary(results: list[InputResult], quiet: bool, seconds: float) -> None:
    if quiet:
        return
    counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "no_face", "failed")}
    frames = sum(r.frames_decoded for r in results)
    analysed = sum(r.frames_analysed for r in results)
    regions = sum(r.regions_analysed for r in results)
    regions_note = f", {regions} face regions" if regions else ""
    persons = sum(len(r.persons) for r in results)
    embedded = sum(r.faces_embedded for r in results)
    persons_note = f", {persons} person{'s' * (persons != 1)} ({embedded} faces embedded)" if persons else ""
    faces = sum(r.faces_seen for r in results)
    note(
        f"fqselect: {len(results)} input(s): {counts['ok']} ok, {counts['skipped']} skipped, "
        f"{counts['no_face']} without a face, {counts['failed']} failed; {frames} frames ({analysed} analysed{regions_note}), {faces} faces{persons_note}, {seconds:.1f} s"
    )
    for result in results:  # the reasons again, together, so a long batch's failures are not scrolled away
        if result.status in ("failed", "no_face"):
            note(f"fqselect:   {'no face' if result.status == 'no_face' else 'failed'} {result.input}: {result.error}")


@app.command("report", epilog=EXIT_CODES_HELP)
def report_command(
    out: Path = typer.Argument(..., help="An --out folder of earlier runs."),
    sheet_only: bool = typer.Option(False, "--sheet-only", help="Only contact_sheet.png, no report.html."),
):
    """Rebuild report.html and contact_sheet.png of an --out folder from its manifests (after --resume runs too).

    Examples:

      fqselect report picks/     (then open picks/report.html in a browser)

      fqselect report picks/ --sheet-only
    """
    if not out.is_dir():
        raise UsageError(f"{out}: output folder not found")
    from .report import build_report, load_inputs

    if not any(load_inputs(out)):
        raise UsageError(f"{out}: no manifest.json below it: not an fqselect output folder")
    for path in build_report(out, sheet_only):
        note(f"fqselect: wrote {path}")


@app.command("score", epilog=EXIT_CODES_HELP)
def score_command(
    inputs: list[str] = typer.Argument(..., help="Images or folders of images, or - to read paths from stdin."),
    aligned: bool = typer.Option(False, "--aligned", help="Inputs are 112x112 ArcFace-aligned crops: no detection, one face each."),
    jsonl: bool = typer.Option(False, "--jsonl", help="JSON lines even when stdout is a terminal (the default when piped)."),
    scorer: str = typer.Option(DEFAULT_SCORER, "--scorer", help="As for the main command."),
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", help="retinaface, yunet, or scrfd (needs --model-pack)."),
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="insightface model pack NAME or PATH."),
    provider: str = typer.Option(DEFAULT_PROVIDER, "--provider", help="auto, cpu or cuda (as for the main command)."),
    min_face: int = typer.Option(0, "--min-face", min=0, help="Ignore faces smaller than this many pixels."),
    null: bool = typer.Option(False, "--null", "-0", help="Paths on stdin (-) are NUL-separated, as find -print0 writes them."),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", min=1, help="Refuse images larger than this many pixels, checked from the header before decoding (default: four 8K frames)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar on stderr (warnings and errors still go there)."),
):
    """Score every face in each image; one JSON object per face (path, quality, eyes_open, bbox, landmarks).

    Examples:

      fqselect score photos/*.jpg > scores.jsonl

      ls crops/*.png | fqselect score - --aligned     (112x112 ArcFace crops: no detection)
    """
    limit_image_pixels(max_pixels)
    # No video decoder here to leave a core for: the detector gets them all (bench_images, 2 cores: 0.31 →
    # 0.35–0.37 of a read loop). The main command keeps one free, where two threads made a folder slower.
    os.environ.setdefault("FQSELECT_THREADS", str(usable_cores()))
    from .api import score_images
    from .decode import NO_FOLDER_IMAGES
    from .score import load_scorer

    paths, imageless = [], []  # a folder without images fails as the main command fails it; the rest run
    for path in expand_inputs(inputs, null):
        images = folder_or_file(path)
        if images:
            paths.extend(images)
        else:
            imageless.append(path)
    if not paths and not imageless:
        raise UsageError("no inputs (give paths, or - with paths on stdin)")
    for folder in imageless:
        fail(f"{folder}: {NO_FOLDER_IMAGES}")
    set_provider(provider)
    quality_scorer = load_scorer(scorer)
    announce_scorer(scorer, quality_scorer.name)
    as_json = jsonl or not sys.stdout.isatty()
    rows: list[list[str]] = []
    problems: set[str | None] = {"failed"} if imageless else set()
    with progress_bar(quiet) as progress:
        task = progress.add_task("images", total=len(paths))
        last_path = None
        for record in score_images(paths, aligned=aligned, scorer=quality_scorer, detector=detector,
                                   model_pack=model_pack, min_face=min_face):
            if record["path"] != last_path:
                progress.advance(task)
                last_path = record["path"]
            problems.add(_emit_score(record, as_json, rows))
    print_table(["path", "face", "quality", "eyes", "scorer"], rows)
    raise typer.Exit(ExitCode.INPUT_FAILED if "failed" in problems else ExitCode.NO_FACE if "no_face" in problems else ExitCode.OK)


def _emit_score(record: dict, as_json: bool, rows: list[list[str]]) -> str | None:
    """Print one `score` record (or its problem; or add it to the table's `rows`); the problem's status,
    `failed` or `no_face`, or None."""
    if record.get("error") == NO_FACE_REASON:
        note(f"fqselect: no face: {record['path']}: {record['error']}")
        return "no_face"
    if "error" in record:
        fail(f"{record['path']}: {record['error']}")
        return "failed"
    if as_json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        eyes = record.get("eyes_open")
        rows.append([record["path"], str(record["face"]), f"{record['quality']:.3f}", "" if eyes is None else f"{eyes:.2f}",
                     record["scorer"]])
    return None


@app.command("models", epilog="Exit codes: 0 the list was printed; 2 usage error (an unknown --model-pack).")
def models_command(
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="Also check the models that need this insightface pack."),
):
    """Every model fqselect knows (detectors, recognisers, quality scorers): version, where its weights
    come from, and whether it is usable here.

    Examples:

      fqselect models

      fqselect models --model-pack buffalo_l     (also the models that need that insightface pack)
    """
    from .registry import list_models

    rows = []
    for model in list_models():
        problem = model.usable(model_pack)
        points = ", ".join(f"{k} {v}" for k, v in model.info.items() if k in ("match", "link")) if model.kind == "recognizer" else ""
        rows.append([model.kind, model.name, model.version, "yes" if problem is None else f"no: {problem}", model.source, points])
    print_table(["kind", "name", "version", "usable", "weights", "operating points"], rows)


@app.command("eval", epilog="Needs the \\[eval] extra for plots and dlib, and an identity-labelled folder (<identity>/<images>); "
                                "embeddings are cached under ~/.cache/fqselect. Exit codes: 0 done; 2 usage error.")
def eval_command(
    dataset: Path = typer.Argument(..., help="A folder laid out as <identity>/<images>."),
    people: Optional[Path] = typer.Option(None, "--people", help="Only these identities (LFW people list such as peopleDevTest.txt, or one name per line)."),
    out: Path = typer.Option(Path("eval"), "--out", "-o", help="Folder for results.md, results.json, edc.png, tar.png."),
    scorers: Optional[str] = typer.Option(None, "--scorers", help="Comma-separated scorers (default: every baseline and every network in weights/)."),
    peer: Optional[List[Path]] = typer.Option(None, "--peer", help="A peer LightQNet ONNX (repeatable; default: ../shared/peers/lightqnet-dm025, -dm050, -dm100 that are present)."),
    no_peer: bool = typer.Option(False, "--no-peer", help="Leave the peer models out."),
    recognizer: Optional[str] = typer.Option(None, "--recognizer", help="sface (default), dlib (needs the \\[eval] extra), or arcface (needs --model-pack)."),
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="insightface model pack for --recognizer arcface (implies it)."),
    splits: int = typer.Option(10, "--splits", min=1, help="Random two-template splits for TAR."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed pass."),
):
    """Error-versus-discard and template-selection TAR for every scorer side by side.

    Examples:

      fqselect eval ../shared/data/lfw/images --people ../shared/data/lfw/peopleDevTest.txt --out eval

      fqselect eval faces/ --scorers tinyfqnet,blur --recognizer dlib
    """
    from .embed import check_recognizer

    check_recognizer(model_pack, recognizer)
    from .research.evaluate import default_peers, run_evaluation

    if people is not None and not people.is_file():
        raise UsageError(f"{people}: people list not found")
    for path in peer or []:
        if not path.is_file():
            raise UsageError(f"{path}: peer model not found")
    peer_paths = [] if no_peer else (list(peer) if peer else default_peers())
    names = [s.strip() for s in scorers.split(",")] if scorers else None
    with progress_bar(False) as progress:
        task = progress.add_task("align and embed", total=None)
        run_evaluation(dataset, people, out, names, peer_paths, model_pack, splits, workers=workers,
                       log=note,
                       progress=lambda done, total: progress.update(task, completed=done, total=total),
                       recognizer=recognizer)
    note(f"wrote {out}/results.md, results.json and plots")


@app.command("train", epilog="Needs the \\[train] extra (PyTorch) and ../shared/data; about 30 minutes a network on 2 cores "
                                 "after a one-off embedding pass. Exit codes: 0 done; 2 usage error.")
def train_command(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with lfw/, celeba/, glint/, celeba-aligned/ (default: ../shared/data, or $FQ_SHARED/data)."),
    arch: str = typer.Option(research.TRAIN_ARCH, "--arch", help="tinyfqnet (the paper's Table I), tinyfqnet-wide (wider early stages, 24.7k parameters, 8.8 M multiply-adds at 112), tinyfqnet-scale (tinyfqnet-wide told the face's eye distance in source pixels: a second input) or lightqnet."),
    size: int = typer.Option(research.TRAIN_SIZE, "--size", min=32, help="Network input size (112: the aligned crop itself)."),
    width: float = typer.Option(1.0, "--width", min=0.25, help="Channel width multiplier of tinyfqnet (1.5: 22.6k parameters, 7.1 M multiply-adds at 112)."),
    loss: str = typer.Option(research.TRAIN_LOSS, "--loss", help="l2 (cosine to the identity centre), soft (its soft label at the FMR 1e-3 threshold), match (soft match rate against the identity's good images at that threshold), mix (the mean of match and l2), cr (CR-FIQA certainty ratio: l2 over one plus the cosine to the nearest other identity), rank (l2 plus a pairwise ranking loss), idq (LightQNet pairs), distill."),
    natural_share: Optional[float] = typer.Option(None, "--natural-share", min=0.0, max=1.0, help="Share of each batch from undegraded images (default: as the data has them)."),
    epochs: int = typer.Option(research.TRAIN_EPOCHS, "--epochs", min=1),
    ema: Optional[float] = typer.Option(None, "--ema", min=0.0, max=0.99999, help="Validate and keep an exponential moving average of the weights, with this decay a step (e.g. 0.998)."),
    samples_per_epoch: int = typer.Option(research.TRAIN_SAMPLES_PER_EPOCH, "--samples-per-epoch", min=128),
    seed: int = typer.Option(0, "--seed", help="Seeds the weights and the batches (and the data, unless --data-seed)."),
    data_seed: Optional[int] = typer.Option(None, "--data-seed", help="Seeds the degraded and closed-eye copies (default: --seed). A new one re-detects and re-embeds every copy (hours); a new --seed with --data-seed 0 reuses the cache."),
    degraded: int = typer.Option(research.TRAIN_DEGRADED, "--degraded", min=0, help="Source-degraded copies of every training image."),
    closed_eyes: bool = typer.Option(True, "--closed-eyes/--no-closed-eyes", help="A copy of every image with a blink or wink on it (made as --eye-style says)."),
    labels: str = typer.Option(research.TRAIN_LABELS, "--labels", help="centre (cosine to the leave-one-out centre of the identity's clean images), rho (each face's cosine to the identity's true centre, from a rank-one fit of its pairwise cosines: no penalty for belonging to an identity with few images), norm (SFace's feature length, mapped onto the cosine's scale: needs no other image of the identity), norm+mirror (the mean of the crop's and its mirror image's lengths, so mapped), centre+norm (centre and norm averaged) or centre+norm-natural (averaged on the natural images; the degraded copies keep the centre cosine)."),
    norm_share: float = typer.Option(research.TRAIN_NORM_SHARE, "--norm-share", min=0.0, max=1.0, help="The feature length's share of a centre+norm label; the centre cosine takes the rest."),
    centre_share: float = typer.Option(1.0, "--centre-share", min=0.1, max=1.0, help="Identity centres (the labels' reference) from this best share of each identity's clean images (1: all of them; --labels centre only)."),
    eye_style: str = typer.Option("paint", "--eye-style", help="How the closed-eye copies are made: paint (cheek-coloured skin over the eye) or lids (the face's own upper lid stretched down over it)."),
    jpeg_penalty: float = typer.Option(0.0, "--jpeg-penalty", min=0.0, max=1.0, help="Taken off the training labels of the heavy-JPEG copies, beyond what SFace takes off (people judge picks by eye)."),
    blur_penalty: float = typer.Option(research.TRAIN_BLUR_PENALTY, "--blur-penalty", min=0.0, max=1.0, help="Taken off the training labels of copies that lost 16 times their detail or more against their own undegraded face (train.softness; the bundled example's defocused second lost 8-11 times), in proportion below that, beyond what SFace takes off (people judge picks by eye)."),
    blur_onset: float = typer.Option(0.0, "--blur-onset", min=0.0, max=3.5, help="Octaves of lost detail (train.softness) below which --blur-penalty takes nothing off; it then grows to its full value at 4 octaves."),
    closed_eye_penalty: float = typer.Option(0.0, "--closed-eye-penalty", min=0.0, max=1.0, help="Taken off the training labels of the closed-eye copies, beyond what SFace takes off (enrollment wants open eyes; SFace barely minds a wink)."),
    name: Optional[str] = typer.Option(None, "--name", help="Weights file name (default: the architecture)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the .onnx and its .json card go (default: the package's weights/)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed passes (cached)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="PyTorch threads (default: all cores)."),
):
    """Train a quality network from recognition-oriented labels (SFace's own embeddings).

    Examples:

      fqselect train --name tinyfqnet     (the shipped default: tinyfqnet-scale, centre+norm labels, blur penalty)

      fqselect train --loss idq --epochs 4 --out /tmp/nets --name trial
    """
    from .research import DataRecipe, Recipe
    from .research.train import run_training

    # The data's seed defaults to the training seed, as in every card so far; apart, a new training
    # seed reuses the cached embeddings and repeats in minutes.
    data_recipe = DataRecipe(degraded, closed_eyes, eye_style, closed_eye_penalty, jpeg_penalty, centre_share, labels,
                             seed if data_seed is None else data_seed, blur_penalty=blur_penalty, blur_onset=blur_onset, norm_share=norm_share)
    recipe = Recipe(arch, size, width, loss, epochs, samples_per_epoch, seed, natural_share, ema, data_recipe)
    run_training(recipe, data, name, out, workers=workers, threads=threads,
                 command="fqselect train " + " ".join(sys.argv[2:]), log=note)


@app.command("train-eyes", epilog="Needs the \\[train] extra (PyTorch) and ../shared/data; a few minutes on 2 cores "
             "(the clean faces' alignment is the one `fqselect train` caches).")
def train_eyes_command(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with lfw/, celeba/, glint/, celeba-aligned/ (default: ../shared/data, or $FQ_SHARED/data)."),
    epochs: int = typer.Option(research.EYES_EPOCHS, "--epochs", min=1),
    seed: int = typer.Option(0, "--seed", help="Seeds the weights and the synthetic closed eyes."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for eyenet.onnx and its .json card (default: the package's weights/eyes/)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed pass (cached)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="PyTorch threads (default: all cores)."),
):
    """Train the eye-openness network behind eyes_open and --eyes open (fqselect/weights/eyes/).

    It learns each eye's openness from clean faces whose eyes are made shut, squeezed or half shut.
    """
    from .research.eyes import run_eyes_training

    run_eyes_training(data, out, epochs, seed, workers=workers, threads=threads,
                      command="fqselect train-eyes " + " ".join(sys.argv[2:]), log=note)


def main() -> None:
    """Entry point: one-line errors with documented exit codes, never a traceback."""
    keep_freed_memory()
    silence_native_stderr()
    code = run_app()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `fqselect ... | head`: the reader left; not an error of ours
        pass
    # Outputs are written and closed by now. Skipping the interpreter's teardown (onnxruntime sessions,
    # module cleanup: ~50 ms, a tenth of a short clip's run) is safe and is all that is left to do.
    os._exit(code)


def run_app() -> int:
    """Run the typer app; the process exit code for how it ended."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit in this mode
        if code == ExitCode.INTERRUPTED:  # typer's own answer to Ctrl-C, without a word
            fail("interrupted")
        return code if isinstance(code, int) else ExitCode.OK
    except UsageError as error:
        fail(str(error))
        return ExitCode.USAGE
    except FQError as error:
        fail(str(error))
        return ExitCode.INPUT_FAILED
    except typer.Exit as done:
        return done.exit_code
    except Interrupted as interrupted:
        fail(str(interrupted))
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        fail("interrupted")
        return ExitCode.INTERRUPTED
    except (ReaderLeft, BrokenPipeError):  # `fqselect ... | head`: the reader left; not an error of ours
        return ExitCode.OK
    except typer.Abort:  # click's form of Ctrl-C
        fail("interrupted")
        return ExitCode.INTERRUPTED
    except typer.exceptions.TyperException as error:  # bad options, as parsed by typer/click
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        fail(f"{message} (see fqselect --help)")
        return ExitCode.USAGE
    except Exception as error:  # a bug of ours: one line, and the traceback only when asked for
        if os.environ.get("FQSELECT_DEBUG") == "1":
            raise
        fail(f"internal error ({type(error).__name__}: {error}); FQSELECT_DEBUG=1 shows where. Please report it.")
        return ExitCode.INTERNAL
