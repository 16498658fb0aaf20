"""--per-person against the default path on a crowd-style clip, in one run: the ratio of their wall
times (target ≤ 3), and the persons found against a reference tracker that embeds every face.

    python benchmarks/bench_persons.py [--frames 300] [--rounds 5] [--out benchmarks/results/persons.md]

Clip: the generated 1280×720 group clip (six faces, a pan and zoom, bursts of camera shake; the pan
takes faces in and out at the frame's edges). Commands as a user types them (`python -m fqselect`,
models loaded each time), interleaved round by round; medians. The persons compared, in process: the
tracker as shipped (links by box overlap, embeds only what overlap cannot decide and each track's best
faces) and the same tracker told to embed every face and link by likeness (the old way).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, examples_module  # noqa: E402
from fqselect.choose import persons  # noqa: E402
from fqselect.choose import pickers as pipeline  # noqa: E402
from fqselect.run.job import process_input  # noqa: E402
from fqselect.options import Options  # noqa: E402


def timed(path: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fqselect", str(path), "--top", "3", "--jsonl", "-q", *args],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def persons_found(path: Path, link_by_overlap: bool) -> tuple[list, int]:
    class Tracker(persons.PersonTracker):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, link_by_overlap=link_by_overlap, **kwargs)

    shipped, pipeline.PersonTracker = pipeline.PersonTracker, Tracker
    try:
        result = process_input(str(path), Options(top=3, per_person=True))
    finally:
        pipeline.PersonTracker = shipped
    return [(p.id, round(p.first_time, 2), round(p.last_time, 2), p.faces_seen) for p in result.persons], result.faces_embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "persons.md")
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "group.mp4"
        examples_module().make_group_clip(clip, (1280, 720), args.frames)
        default, per_person = [], []
        for _ in range(args.rounds):
            default.append(timed(clip))
            per_person.append(timed(clip, "--per-person"))
        shipped, shipped_embedded = persons_found(clip, True)
        reference, reference_embedded = persons_found(clip, False)
    d, p = statistics.median(default), statistics.median(per_person)
    lines = [f"1280×720 group clip, {args.frames} frames, six faces; medians of {args.rounds} interleaved rounds", "",
             "| command | seconds |", "| --- | --- |",
             f"| `fqselect group.mp4 --top 3` | {d:.2f} |", f"| `fqselect group.mp4 --top 3 --per-person` | {p:.2f} |", "",
             f"--per-person / default = **{p / d:.2f}** (target ≤ 3)", "",
             "| tracker | faces embedded | persons (id, first, last, faces seen) |", "| --- | --- | --- |",
             f"| shipped (links by overlap) | {shipped_embedded} | {len(shipped)}: {shipped} |",
             f"| reference (embeds every face) | {reference_embedded} | {len(reference)}: {reference} |"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
