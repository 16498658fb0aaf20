"""Video throughput against the decoder's own speed, and whether the fast paths still find the best face.

    python benchmarks/bench_video.py [--seconds 30] [--rounds 5] [--out benchmarks/results/video.md]

Clips: the six-face group scene (25 fps, `--seconds` long) encoded three ways at 1280×720 and 1920×1080
(examples/make_example.ENCODINGS: H.264 as x264 makes it by default, with B-frames; H.264 as an IP
camera makes it, no B-frames and a keyframe a second; HEVC with x265's defaults), and the real clips of
../shared/videos when they are there. For each, in one run:
- decode-only: a plain OpenCV `read()` loop over the file (the baseline of every ratio), and PyAV
  decoding every frame without converting it (the decoder's own limit);
- the whole command `fqselect CLIP --top 3 --jsonl -q` (process start, imports, model loading
  included) against the decode-only loop run as a whole process too, and the same with --keyframes:
  medians over `--rounds` rounds of back-to-back runs (on a shared 2-core VM single runs vary by ±20%),
  with the command's peak RSS;
- in-process (models loaded, as a batch worker runs): the default path's fps and ratio (median of
  paired runs), frames judged a second (pictures the pre-screen looked at), and the first pick's score
  (what picks are ranked by; its quality where there is no score) of the default path and of --keyframes
  against --exhaustive (every frame through the detector).
The real clips are 3–34 s long, so for them only the in-process figures are given (a whole command on a
3-s clip measures start-up). Peak RSS of the whole command is also measured on a 1- and a 10-minute clip.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, decode_only_fps, examples_module, write_report  # noqa: E402
from fqselect.run.job import process_input
from fqselect.run.bundle import models_for  # noqa: E402
from fqselect.research import shared_dir  # noqa: E402
from fqselect.options import Options  # noqa: E402
from fqselect.run.process import keep_freed_memory  # noqa: E402

# A small launcher process times one command and reads its peak RSS from wait4(): started straight
# from this (large) benchmark process, the command's ru_maxrss would start from this process's own peak,
# which a fork carries over; and fqselect leaves by os._exit, so it cannot report on itself.
LAUNCHER = (
    "import os, sys, time\n"
    "start = time.perf_counter()\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(time.perf_counter() - start, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status), file=sys.stderr)\n"
)
DECODE_COMMAND = "import cv2, sys\ncapture = cv2.VideoCapture(sys.argv[1])\nwhile capture.read()[0]:\n    pass\n"
COMMAND = ("--top", "3", "--jsonl", "-q")
SIZES = ((1280, 720), (1920, 1080))


def generated_clips(work: Path, encodings: list[str], seconds: int) -> Iterator[tuple[str, Path]]:
    """The six-face group scene at SIZES in each encoding, `seconds` at 25 fps, written into `work` as
    they are needed: (name, path)."""
    make = examples_module()
    for encoding in encodings:
        for width, height in SIZES:
            clip = work / f"{encoding}_{height}p.mp4"
            make.make_group_clip(clip, (width, height), seconds * 25, encoding=encoding)
            yield f"{encoding} {width}×{height}", clip


def launch(*argv: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one process running argv."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], capture_output=True, text=True, cwd=ROOT)
    seconds, rss, code = proc.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        raise RuntimeError(f"{argv} exited with {code}: {proc.stderr.strip()}")
    return float(seconds), int(rss)


def command_ratios(path: Path, rounds: int) -> dict[str, tuple[float, float, int]]:
    """Per mode (default, --keyframes): median seconds, median ratio (decode-only command's seconds over
    the command's, paired by round) and peak RSS (MiB)."""
    modes = {"default": (), "keyframes": ("--keyframes",)}
    runs = {mode: [] for mode in modes}
    for _ in range(rounds):
        decode_s, _ = launch(sys.executable, "-c", DECODE_COMMAND, str(path))
        for mode, extra in modes.items():
            seconds, rss = launch(sys.executable, "-m", "fqselect", str(path), *COMMAND, *extra)
            runs[mode].append((seconds, decode_s / seconds, rss))
    return {mode: (statistics.median(s for s, _, _ in r), statistics.median(q for _, q, _ in r), max(m for *_, m in r))
            for mode, r in runs.items()}


def pyav_decode_fps(path: Path) -> float:
    """Every frame decoded by PyAV, none converted: the decoder's own limit."""
    start = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = sum(1 for _ in container.decode(stream))
    return count / (time.perf_counter() - start)


def pipeline_run(path: Path, **options) -> tuple[float, object]:
    """Seconds of the per-input job with models already loaded, and its result."""
    opts = Options(**options)
    models_for(opts)
    start = time.perf_counter()
    result = process_input(str(path), opts)
    return time.perf_counter() - start, result


def paired_pipeline(path: Path, rounds: int) -> tuple[float, float, object]:
    """Default fps and its ratio to the OpenCV decode-only loop, the median of `rounds` back-to-back
    pairs, and that run's result."""
    pairs = []
    for _ in range(rounds):
        decode_fps, frames = decode_only_fps(path)
        seconds, result = pipeline_run(path)
        pairs.append((frames / seconds / decode_fps, frames / seconds, result))
    ratio, fps, result = sorted(pairs, key=lambda p: p[0])[len(pairs) // 2]
    return fps, ratio, result


def top1(result) -> float:
    """The first pick's score (what the picks are ranked by: log-odds), its quality where it has none."""
    if not result.picks:
        return float("nan")
    first = result.picks[0]
    return first.score if first.score is not None else first.quality


def measure_clip(name: str, path: Path, rounds: int, command: bool) -> str:
    decode_fps, frames = decode_only_fps(path)
    pyav_fps = pyav_decode_fps(path)
    default_fps, ratio, default = paired_pipeline(path, rounds)
    with av.open(str(path)) as container:
        duration = frames / float(container.streams.video[0].average_rate or 25)
    _, exhaustive = pipeline_run(path, exhaustive=True)
    keyframes_s, keyframes = pipeline_run(path, keyframes=True)
    best = top1(exhaustive)
    row = (f"| {name} | {frames} | {decode_fps:.0f} / {pyav_fps:.0f} | {default_fps:.0f} | **{ratio:.2f}** | "
           f"{default.frames_decoded / duration:.1f} | {top1(default):.4f} / {best:.4f} ({100 * (top1(default) / best - 1):+.1f}%) | "
           f"{frames / keyframes_s:.0f} | {frames / keyframes_s / decode_fps:.1f} | {top1(keyframes):.4f} ({100 * (top1(keyframes) / best - 1):+.1f}%) |")
    if command:
        modes = command_ratios(path, rounds)
        (default_s, default_ratio, rss), (keyframes_cmd_s, keyframes_ratio, _) = modes["default"], modes["keyframes"]
        row += (f" {frames / default_s:.0f} | **{default_ratio:.2f}** | {frames / keyframes_cmd_s:.0f} | "
                f"**{keyframes_ratio:.1f}** | {rss} MiB |")
    else:
        row += " – | – | – | – | – |"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="length of the generated clips")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--encodings", nargs="+", default=["h264", "h264-camera", "hevc"])
    parser.add_argument("--skip-real", action="store_true", help="skip the clips of ../shared/videos")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 1- and 10-minute memory runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video.md")
    args = parser.parse_args()
    compile_bytecode()
    keep_freed_memory()  # the allocator policy of the command and its batch workers, for both loops alike
    make = examples_module()  # the memory runs' long clips too
    work = Path(tempfile.mkdtemp(prefix="fqvideo-"))
    lines = [
        "| clip | frames | decode-only fps: OpenCV / PyAV (no conversion) | default fps (in-process) | **ratio** | "
        "frames judged a second | top-1 score default / exhaustive | `--keyframes` fps (in-process) | ratio | "
        "top-1 `--keyframes` | `--top 3` fps (command) | **ratio** | `--keyframes` fps (command) | **ratio** | peak RSS (command) |",
        "| --- " * 15 + "|",
    ]
    for name, clip in generated_clips(work, args.encodings, args.seconds):
        lines.append(measure_clip(name, clip, args.rounds, command=True))
        print(lines[-1], flush=True)
    videos = shared_dir() / "videos"
    if not args.skip_real and videos.is_dir():
        for clip in sorted(videos.glob("*.mp4")):
            lines.append(measure_clip(f"real: {clip.name}", clip, args.rounds, command=False))
            print(lines[-1], flush=True)
    if not args.skip_rss:
        lines += ["", "| input (640×360 H.264, 25 fps, `--top 3 --jsonl -q`) | frames | seconds | peak RSS |", "| --- | --- | --- | --- |"]
        for minutes in (1, 10):
            clip = work / f"long_{minutes}min.mp4"
            make.make_group_clip(clip, (640, 360), minutes * 60 * 25, encoding="h264")
            seconds, rss = launch(sys.executable, "-m", "fqselect", str(clip), *COMMAND)
            lines.append(f"| {minutes} minute(s) | {minutes * 1500} | {seconds:.1f} | {rss} MiB |")
            print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
