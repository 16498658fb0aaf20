"""Many short clips in one call: process start-up and model loading paid once, not per file.

    python benchmarks/bench_many_clips.py [--clips 1000] [--out benchmarks/results/many_clips.md]

Writes one 1-second 480×360 clip with a face (the example's eight segments, 25 fps) and links it under `--clips` names, then, in one
run: a decode-only loop over every file (OpenCV `read()`, one process: the baseline), and `fqselect - --jsonl
-q` with the paths on stdin with one and two worker processes (`-j`; two or more inputs are isolated,
each worker loading the models once). Reports files per second for each and the ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, examples_module  # noqa: E402


def decode_only(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        capture = cv2.VideoCapture(str(path))
        while capture.read()[0]:
            pass
        capture.release()
    return time.perf_counter() - started


def fqselect_run(paths: list[Path], workers: int) -> tuple[float, int, int]:
    """Seconds of one whole command over the paths (given on stdin), its picks and its exit code."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fqselect", "-", "--top", "1", "--jsonl", "-q", "-j", str(workers)],
                          input="\n".join(map(str, paths)), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, sum(1 for line in proc.stdout.splitlines() if line.startswith("{")), proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "many_clips.md")
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.mp4"
        examples_module().make_clip(one, fps=25, seconds=1 / 8)  # eight segments of 1/8 s: one second
        paths = []
        for i in range(args.clips):
            paths.append(Path(tmp) / f"clip{i:05d}.mp4")
            os.link(one, paths[-1])
        baseline = decode_only(paths)
        runs = {workers: fqselect_run(paths, workers) for workers in (1, 2)}
    lines = [f"{args.clips} one-second 480×360 clips (one face), paths on stdin, one call", "",
             "| run | seconds | files/s | ratio to the decode-only loop |", "| --- | --- | --- | --- |",
             f"| decode-only loop (OpenCV `read()`, one process) | {baseline:.1f} | {args.clips / baseline:.1f} | 1.00 |"]
    for workers, (seconds, picked, code) in runs.items():
        lines.append(f"| `fqselect - --top 1 --jsonl -q -j {workers}` | {seconds:.1f} | {args.clips / seconds:.1f} | "
                     f"**{baseline / seconds:.2f}** ({picked} picks, exit code {code}) |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
