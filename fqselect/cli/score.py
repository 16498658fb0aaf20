"""`fqselect score IMAGE ...`: the quality of every face of every image, one JSON object a face."""

from __future__ import annotations

import json
import os
import sys

import typer

from ..cores import usable_cores
from ..errors import NO_FACE_REASON, UsageError
from .app import PlainUsage, app, exit_code
from .inputs import expand_inputs, folder_or_file, limit_image_pixels
from .options import plain, with_options
from .render import fail, print_table, progress_bar, report_problem
from .select import announce_scorer


@app.command("score", cls=PlainUsage, epilog="Exit codes: 0 every image was scored; 1 some image could not be read; 2 usage error; "
             "3 no image failed but some had no face.")
@with_options("scorer", "detector", "model_pack", "min_face", "provider", "null", "max_pixels", "quiet",
              max_pixels={"help": "Refuse images larger than this many pixels, checked from the header before decoding "
                                  "(default: four 8K frames)."})
def score_command(
    inputs: list[str] = typer.Argument(..., metavar="IMAGE|FOLDER|-...", help="Images or folders of images, or - to read paths from stdin."),
    aligned: bool = typer.Option(False, "--aligned", help="Inputs are 112x112 ArcFace-aligned crops: no detection, one face each. A crop does not tell how large the face was in its frame (the network's second input), so a pick's crop can score other than the run's net_quality."),
    jsonl: bool = typer.Option(False, "--jsonl", help="JSON lines even when stdout is a terminal (the default when piped)."),
    **values,
):
    """Score every face in each image; one JSON object per face (path, quality, eyes_open, gaze, mouth_open, bbox, landmarks).

    Examples:

      fqselect score photos/*.jpg > scores.jsonl

      ls crops/*.png | fqselect score - --aligned     (112x112 ArcFace crops: no detection)
    """
    values = plain(values)
    limit_image_pixels(values["max_pixels"])
    # No video decoder here to leave a core for: the detector gets them all. The main command keeps one
    # free, where two threads made a folder slower (docs/benchmarks.md).
    os.environ.setdefault("FQSELECT_THREADS", str(usable_cores()))
    from ..api import score_images
    from ..decode import NO_FOLDER_IMAGES
    from ..quality import load_scorer
    from ..zoo.sessions import set_provider

    paths, imageless = [], []  # a folder without images fails as the main command fails it; the rest run
    for path in expand_inputs(inputs, values["null"]):
        images = folder_or_file(path)
        if images:
            paths.extend(images)
        else:
            imageless.append(path)
    if not paths and not imageless:
        raise UsageError("no inputs (give paths, or - with paths on stdin)")
    for folder in imageless:
        fail(f"{folder}: {NO_FOLDER_IMAGES}")
    set_provider(values["provider"])
    quality_scorer = load_scorer(values["scorer"])
    announce_scorer(values["scorer"], quality_scorer.name)
    as_json = jsonl or not sys.stdout.isatty()
    rows: list[list[str]] = []
    problems: set[str | None] = {"failed"} if imageless else set()
    with progress_bar(values["quiet"]) as progress:
        task = progress.add_task("images", total=len(paths))
        last_path = None
        for record in score_images(paths, aligned=aligned, scorer=quality_scorer, detector=values["detector"],
                                   model_pack=values["model_pack"], min_face=values["min_face"]):
            if record["path"] != last_path:
                progress.advance(task)
                last_path = record["path"]
            problems.add(_emit_score(record, as_json, rows))
    print_table(["path", "face", "quality", "eyes", "mouth", "scorer"], rows)
    raise typer.Exit(exit_code(failed="failed" in problems, no_face="no_face" in problems))


def _emit_score(record: dict, as_json: bool, rows: list[list[str]]) -> str | None:
    """Print one `score` record (or its problem; or add it to the table's `rows`); the problem's status,
    `failed` or `no_face`, or None."""
    if "error" in record:
        status = "no_face" if record["error"] == NO_FACE_REASON else "failed"
        report_problem(record["path"], status, record["error"])
        return status
    if as_json:
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        eyes, mouth = record.get("eyes_open"), record.get("mouth_open")
        rows.append([record["path"], str(record["face"]), f"{record['quality']:.3f}", "" if eyes is None else f"{eyes:.2f}",
                     "" if mouth is None else f"{mouth:.2f}", record["scorer"]])
    return None
