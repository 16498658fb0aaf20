"""Video throughput against the decoder's own speed, and whether the fast default still finds the best face.

    python benchmarks/bench_video.py [--frames 400] [--out benchmarks/results/video.md]

For a generated 1280×720 and 1920×1080 group clip (six faces per frame), in one run: decode-only fps (a
plain OpenCV read loop over the same file: the baseline), then `fqselect VIDEO --top 3` at default
settings and with --exhaustive (every frame at full effort), each timed twice: the whole command
(process start and model loading included) and the pipeline alone (models loaded, as in a batch run).
Ratios are against decode-only. "top-1 quality" compares the default run's best face with the
exhaustive run's. Peak RSS of the whole command is measured for a 1-minute and a 10-minute clip.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import decode_only_fps, examples_module, write_report  # noqa: E402
from fqselect.pipeline import Options, models_for, process_input  # noqa: E402

RSS_PROBE = (
    "import resource, sys, runpy\n"
    "sys.argv = ['fqselect'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('fqselect', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)\n"
)


def run_command(path: Path, *args: str) -> tuple[float, list[dict], int]:
    """Wall time, picks, and peak RSS (MiB) of one `fqselect` process."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path), "--jsonl", "-q", *args],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    picks = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return seconds, picks, int(proc.stderr.strip().splitlines()[-1])


def pipeline_seconds(path: Path, **options) -> tuple[float, float, int]:
    """Seconds of the per-input job with models already loaded; top-1 quality; frames analysed."""
    opts = Options(**options)
    models_for(opts)
    start = time.perf_counter()
    result = process_input(str(path), opts)
    return time.perf_counter() - start, result.picks[0].quality, result.frames_analysed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--skip-rss", action="store_true", help="skip the 1- and 10-minute memory runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video.md")
    args = parser.parse_args()
    make = examples_module()
    work = Path(tempfile.mkdtemp(prefix="fqvideo-"))
    lines = [
        "| clip | frames | decode-only fps | default fps (command) | ratio | default fps (pipeline) | ratio | "
        "frames analysed | exhaustive fps (pipeline) | ratio | top-1 quality default / exhaustive | peak RSS (command) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for width, height in ((1280, 720), (1920, 1080)):
        clip = work / f"group_{width}x{height}.mp4"
        make.make_group_clip(clip, (width, height), args.frames)
        decode_fps, frames = decode_only_fps(clip)
        command_s, _, rss = run_command(clip)
        default_s, default_top, analysed = pipeline_seconds(clip)
        exhaustive_s, exhaustive_top, _ = pipeline_seconds(clip, exhaustive=True)
        lines.append(
            f"| {width}×{height}, 6 faces | {frames} | {decode_fps:.1f} | {frames / command_s:.1f} | "
            f"{frames / command_s / decode_fps:.2f} | {frames / default_s:.1f} | {frames / default_s / decode_fps:.2f} | "
            f"{analysed} | {frames / exhaustive_s:.1f} | {frames / exhaustive_s / decode_fps:.2f} | "
            f"{default_top:.4f} / {exhaustive_top:.4f} ({100 * (default_top / exhaustive_top - 1):+.1f}%) | {rss} MiB |")
        print(lines[-1], flush=True)
    if not args.skip_rss:
        lines += ["", "| input (640×360, 25 fps) | frames | seconds | peak RSS |", "| --- | --- | --- | --- |"]
        for minutes in (1, 10):
            clip = work / f"long_{minutes}min.mp4"
            make.make_group_clip(clip, (640, 360), minutes * 60 * 25)
            seconds, _, rss = run_command(clip)
            lines.append(f"| {minutes} minute(s) | {minutes * 1500} | {seconds:.1f} | {rss} MiB |")
            print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
