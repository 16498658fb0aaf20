"""Batch throughput over a folder of clips with 1 and 2 worker processes, in one run.

    python benchmarks/bench_batch.py [--clips 8] [--frames 150] [--out benchmarks/results/batch.md]

The clips are generated 640×360 group scenes (six faces). Each run is the whole command,
`fqselect DIR/*.mp4 --out OUT --workers N`, timed from process start to exit.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, decode_only_fps, examples_module, write_report  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
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
             "| workers | seconds | frames/s | speed-up |", "| --- | --- | --- | --- |"]
    baseline = None
    for workers in (1, 2):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fqselect", *map(str, clips), "--out", str(work / f"out{workers}"),
                        "--workers", str(workers), "-q"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        baseline = baseline or seconds
        lines.append(f"| {workers} | {seconds:.1f} | {frames / seconds:.1f} | {baseline / seconds:.2f} |")
        print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
