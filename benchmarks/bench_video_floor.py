"""How fast the default video path could be at best: the ceilings of bench_video.py's ratios.

    python benchmarks/bench_video_floor.py [--seconds 30] [--rounds 5] [--out benchmarks/results/video_floor.md]

On the generated clips of bench_video.py (the six-face group scene, 25 fps, x264 with B-frames, an IP
camera's H.264, x265; 720p and 1080p), in one run, medians of `--rounds` back-to-back rounds:
- baseline: the plain OpenCV `read()` loop over the file as a whole process (bench_video's baseline);
- decode floor: a whole process that does only what every default run must do before any detection —
  start Python, import the command's decoding stack, and decode with fqselect's own reader exactly the
  frames the default path decodes, as it decodes them (non-reference frames skipped where the stream has
  them, every frame of an IP camera's stream, where every frame is a reference; keyframe-aligned chunks
  two at a time where the path splits the video), converting none: no pre-screen, no model;
- the whole command `fqselect CLIP --top 3 --jsonl -q`;
- in-process, the same decoding with the interpreter and imports already paid, against the OpenCV loop
  in-process: the ceiling of bench_video's in-process ratio;
- CPU seconds (user + system, from `os.times` of a child) of that decoding with one FFmpeg thread, and of
  a whole in-process default run (`time.process_time`, models loaded: decoding, pre-screen and
  analysis, on every thread): on two cores the default path cannot take less wall time than half the
  latter (against the OpenCV loop's in-process seconds, the median of the rounds above).
The ceiling columns are baseline ÷ floor: no detector, however cheap, brings the command above them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, decode_only_fps, write_report  # noqa: E402
from bench_video import COMMAND, DECODE_COMMAND, generated_clips, launch  # noqa: E402
from default_decoding import decode_as_the_default_path  # noqa: E402
from fqselect.run.job import process_input
from fqselect.run.bundle import models_for  # noqa: E402
from fqselect.options import Options  # noqa: E402
from fqselect.run.process import keep_freed_memory  # noqa: E402

# The default path's decoding alone, as a whole process (the floor), and with one FFmpeg thread (its CPU).
DECODING = str(ROOT / "benchmarks" / "default_decoding.py")


def decode_floor_in_process(path: Path) -> tuple[float, int]:
    """Seconds to decode the default path's frames in this process (imports paid), and their count."""
    start = time.perf_counter()
    count = decode_as_the_default_path(str(path))
    return time.perf_counter() - start, count


def run_cpu(path: Path) -> float:
    """CPU seconds, on every thread of this process, of one default in-process run (models loaded)."""
    options = Options(top=3)
    models_for(options)
    process_input(str(path), options)  # warm: the first run of a session pays for its allocations
    start = time.process_time()
    process_input(str(path), options)
    return time.process_time() - start


def measure(name: str, path: Path, rounds: int) -> str:
    baseline, floor, command, ratios, opencv_in_process, in_process = [], [], [], [], [], []
    for _ in range(rounds):
        decode_s, _ = launch(sys.executable, "-c", DECODE_COMMAND, str(path))
        floor_s, _ = launch(sys.executable, DECODING, str(path))
        command_s, _ = launch(sys.executable, "-m", "fqselect", str(path), *COMMAND)
        baseline.append(decode_s), floor.append(floor_s), command.append(command_s)
        ratios.append((decode_s / floor_s, decode_s / command_s))
        opencv_fps, frames = decode_only_fps(path)
        seconds, decoded = decode_floor_in_process(path)
        opencv_in_process.append(frames / opencv_fps)
        in_process.append(frames / opencv_fps / seconds)
    cpu = subprocess.run([sys.executable, DECODING, str(path), "--cpu"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    decode_cpu, whole_run = float(cpu[0]), run_cpu(path)
    median = statistics.median
    return (f"| {name} | {frames} / {decoded} | {median(baseline):.2f} | {median(floor):.2f} | {median(command):.2f} | "
            f"**{median(r for r, _ in ratios):.2f}** | {median(c for _, c in ratios):.2f} | "
            f"**{median(in_process):.2f}** | {decode_cpu:.2f} / {whole_run:.2f} | "
            f"{median(opencv_in_process) / (whole_run / 2):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="length of the generated clips")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--encodings", nargs="+", default=["h264", "h264-camera", "hevc"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video_floor.md")
    args = parser.parse_args()
    compile_bytecode()
    keep_freed_memory()
    work = Path(tempfile.mkdtemp(prefix="fqfloor-"))
    lines = [
        "| clip | frames: in file / the default path decodes | OpenCV loop, s (command) | decode floor, s (command) | "
        "`--top 3`, s (command) | **command ceiling** | command ratio | **in-process ceiling** | "
        "CPU s: decoding (1 thread) / a whole default run | two-core CPU ceiling (in-process) |",
        "| --- " * 10 + "|",
    ]
    for name, clip in generated_clips(work, args.encodings, args.seconds):
        lines.append(measure(name, clip, args.rounds))
        print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
