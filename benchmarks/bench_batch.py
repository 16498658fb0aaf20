"""Batch throughput over a folder of clips with 1 and 2 worker processes, in one run.

    python benchmarks/bench_batch.py [--clips 8] [--frames 150] [--rounds 5] [--out benchmarks/results/batch.md]

The clips are generated 640×360 group scenes (six faces). Each run is the whole command,
`fqselect DIR/*.mp4 --out OUT --workers N`, timed from process start to exit; the worker counts take
turns for `--rounds` rounds and each reports its median (this VM's speed drifts between minutes).
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, decode_only_fps, examples_module, write_report  # noqa: E402


def run_batch(clips: list[Path], out: Path, workers: int) -> float:
    """Seconds of one whole `fqselect` command over the clips."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fqselect", *map(str, clips), "--out", str(out), "--workers", str(workers),
                    "-q", "--overwrite"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "batch.md")
    args = parser.parse_args()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="fqbatch-"))
    make = examples_module()
    clips = []
    for i in range(args.clips):
        clips.append(work / f"clip{i:02d}.mp4")
        make.make_group_clip(clips[-1], (640, 360), args.frames)
    frames = args.clips * args.frames
    decode_fps, _ = decode_only_fps(clips[0])  # the clips are alike: one is the decoder's baseline
    lines = [f"{args.clips} clips × {args.frames} frames (640×360, six faces); decode-only: {decode_fps:.0f} fps", "",
             "| workers | seconds (median) | frames/s | speed-up |", "| --- | --- | --- | --- |"]
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for workers in times:
            times[workers].append(run_batch(clips, work / f"out{workers}", workers))
    baseline = statistics.median(times[1])
    for workers, runs in times.items():
        seconds = statistics.median(runs)
        lines.append(f"| {workers} | {seconds:.2f} | {frames / seconds:.1f} | {baseline / seconds:.2f} |")
        print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
