"""`fqselect [select] INPUT ...`: the main command, a thin layer over `fqselect.run_batch`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from ..options import DEFAULT_NETWORK, split_values
from .app import EXIT_CODES_HELP, Interrupted, PlainUsage, app, exit_code
from .inputs import expand_inputs, limit_image_pixels
from .options import ANALYSIS, LIVE, RUN, plain, with_options
from .render import (
    csv_writer,
    json_line,
    note,
    print_picks,
    progress_bar,
    report_result,
    summary,
    warn,
)

if TYPE_CHECKING:  # the records load with the first run, not with `--help`
    from ..records import InputResult


@app.command("select", epilog=EXIT_CODES_HELP, cls=PlainUsage)
@with_options(*ANALYSIS, *RUN, *LIVE)
def select_command(
    inputs: list[str] = typer.Argument(..., metavar="VIDEO|FOLDER|IMAGE|URL|-...",
                                       help="Videos, image folders (one template each), images, live stream URLs "
                                            "(rtsp://, http:// …, watched until they end), or - to read paths from stdin."),
    **values,
):
    """Pick the TOP best faces of each input.

    Examples:

      fqselect clip.mp4 --top 3 --out picks --report     (then open picks/report.html)

      find /archive -name '*.mp4' -print0 | fqselect - -0 --jsonl --out picks --resume > picks.jsonl

      fqselect cctv.mp4 --per-person --gallery known_people/ --csv > persons.csv

      fqselect rtsp://user:pass@cam.local/stream --out shots --jsonl     (each person's best shots as they leave)
    """
    limit_image_pixels(values["max_pixels"])
    options, run, live = split_values(plain(values))
    paths = expand_inputs(inputs, run.null)
    from ..run.guard import name_input
    from ..urls import is_stream, masked

    if not paths:
        raise UsageError("no inputs (give paths, or - with paths on stdin)")
    if len(paths) == 1:  # runs in this process (batches are isolated per input by their workers)
        name_input(masked(paths[0]))
    from ..output.write import prepare_out_dir
    from ..run.batch import Local, Ray, Workers, run_batch, run_id
    from ..run.bundle import check_models
    from ..zoo.sessions import set_provider

    set_provider(run.provider)
    if run.out is not None:
        prepare_out_dir(run.out)  # before any model loads: an unwritable --out is a usage error at once
    if live.follow or any(is_stream(path) for path in paths):
        from .live import check_live, watch_sources

        check_live(paths, run, live)
        check_models(options)
        raise typer.Exit(watch_sources(paths, options, run, live))
    scorer = check_models(options)  # models load with the first input, as it decodes
    announce_scorer(options.scorer, scorer)
    executor = Ray(run.ray) if run.ray else Workers(run.workers or 0) if len(paths) > 1 else Local()
    run_name = run_id()
    started = time.perf_counter()
    results: list[InputResult] = []
    emit = csv_writer() if run.csv else json_line if run.jsonl else None
    with progress_bar(run.quiet) as progress:
        overall = progress.add_task("inputs", total=len(paths))
        frames_task = progress.add_task("frames", total=None, visible=len(paths) == 1 or run.workers == 1)
        at_work: list[str] = []  # the files being analysed now, named on the inputs bar

        def on_start(path: str) -> None:
            at_work.append(path)
            progress.update(overall, description=_names(at_work))

        def on_frame(done: int, planned: int | None) -> None:
            progress.update(frames_task, completed=done, total=planned)

        try:
            for result in run_batch(paths, options, run.out, executor, run.overwrite, run.resume, on_frame, on_start,
                                    run_name):
                if result.input in at_work:
                    at_work.remove(result.input)
                progress.update(overall, advance=1, description=_names(at_work))
                results.append(result)
                report_result(result, emit)
                result.drop_pixels()  # written and reported: the table needs only the records
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; {len(results)} of {len(paths)} inputs complete"
                              + (" (rerun with --resume to skip them)" if run.out is not None and results else "")) from None
    if emit is None and results:
        print_picks(results)
    if run.out is not None:
        write_run(run.out, run_name, options, scorer, results)
        _write_report(run.out, results, run.report, run.sheet, run_name)
    if not run.quiet:
        _note_ignored_options(options, results)
    summary(results, run.quiet, time.perf_counter() - started)
    raise typer.Exit(exit_code(failed=any(r.status == "failed" or r.warnings for r in results),
                               no_face=any(r.status == "no_face" for r in results)))


def announce_scorer(scorer_option: str, scorer_name: str) -> None:
    """A warning, even with --quiet (a pipeline must not get weaker picks unannounced), when `auto` finds
    no trained network."""
    from ..quality.network import available_networks

    if scorer_option == "auto" and DEFAULT_NETWORK not in available_networks():
        warn(f"no trained quality network in zoo/weights/ ({DEFAULT_NETWORK}.onnx); scoring with the perceptual "
             f"'{scorer_name}' scorer")


def _write_report(out: Path, results: list[InputResult], report: bool, sheet: bool, run: str) -> None:
    """failures.jsonl always (the report's index reads it), and with --report the page and the sheet,
    with --sheet the sheet alone."""
    from ..output.report import build_report, write_failures

    write_failures(out, results, run)
    if report or sheet:
        for path in build_report(out, sheet_only=not report):
            note(f"fqselect: wrote {path}")


VIDEO_ONLY = ("start", "end", "every", "fps", "max_frames", "exhaustive", "keyframes", "window")


def _note_ignored_options(options, results: list[InputResult]) -> None:
    """A video-only option given while some inputs were images or folders: say they ignored it."""
    from ..options import Options, settings

    defaults = settings(Options)
    given = [name for name in VIDEO_ONLY if getattr(options, name) != defaults[name][0]]
    stills = [r for r in results if r.kind in ("image", "folder")]
    if given and stills:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        note(f"fqselect: note: {flags} appl{'ies' if len(given) == 1 else 'y'} to videos; "
             f"{len(stills)} image or folder input{'s' * (len(stills) != 1)} ignored {'it' if len(given) == 1 else 'them'}")


def write_run(out: Path, run: str, options, scorer: str, results: list[InputResult]) -> None:
    """`run.json` in --out: the last run's name, date, fqselect version, command, options and models, for
    the report's header."""
    import datetime
    import json
    import sys

    from .. import __version__
    from ..output.write import write_text_atomically

    record = {"run": run, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "fqselect_version": __version__, "command": " ".join(["fqselect", *sys.argv[1:]]),
              "options": {k: v for k, v in vars(options).items()},
              "models": {"detector": options.detector, "scorer": scorer, "recognizer": "sface" if not options.model_pack else "arcface",
                         "eyes": "mediapipe iris landmarks", "mouth": "mediapipe face mesh"},
              "inputs": len(results), "statuses": {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "no_face", "failed")}}
    write_text_atomically(out / "run.json", json.dumps(record, indent=2) + "\n")


def _names(paths: list[str], width: int = 40) -> str:
    """The files at work, by name, cut to fit the progress line."""
    text = ", ".join(Path(p).name for p in paths) or "inputs"
    return text if len(text) <= width else text[: width - 1] + "…"

