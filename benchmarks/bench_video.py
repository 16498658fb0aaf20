"""Video throughput against the decoder's own speed, and whether the fast default still finds the best face.

    python benchmarks/bench_video.py [--frames 400 1500] [--out benchmarks/results/video.md]

For a generated 1280×720 and 1920×1080 group clip (six faces per frame, 25 fps; 400 frames and 1,500 =
one minute), in one run:
- decode-only: a plain OpenCV `read()` loop over the same file (the baseline), in this process and as
  a whole process (`python -c "import cv2; ..."`, start-up included);
- `fqselect VIDEO --top 3` at default settings: the in-process pipeline (models loaded, as in a batch
  run; the median of seven runs, each paired with a decode-only run just before it) and the whole
  command (process start, imports, model loading included), in its two output forms: the table on
  stdout with the summary line on stderr, as typed, and JSON lines with `-q`, as in a shell pipeline
  (both to pipes). Each is the median over 15 rounds of back-to-back runs (decode-only, then each
  form): on a shared 2-core VM single runs vary by ±20%;
- the same with --exhaustive (every frame through the detector), in-process.
Ratios are default over decode-only, like for like (pipeline / in-process loop, command / command).
"top-1 quality" compares the default run's best face with the exhaustive run's. Peak RSS of the whole
command is measured for a 1-minute and a 10-minute clip.
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

from bench_pipeline import compile_bytecode, decode_only_fps, examples_module, write_report  # noqa: E402
from fqselect.pipeline import models_for, process_input
from fqselect.results import Options  # noqa: E402
from fqselect.runtime import keep_freed_memory  # noqa: E402

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


def launch(*argv: str) -> tuple[float, str, int]:
    """Wall seconds, stdout and peak RSS (MiB) of one process running argv."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], capture_output=True, text=True, cwd=ROOT)
    seconds, rss, code = proc.stderr.strip().splitlines()[-1].split()
    if int(code) != 0:
        raise RuntimeError(f"{argv} exited with {code}: {proc.stderr.strip()}")
    return float(seconds), proc.stdout, int(rss)


def fqselect_command(path: Path, *args: str) -> tuple[float, int]:
    """Wall time and peak RSS (MiB) of one `fqselect` process on `path`."""
    seconds, _, rss = launch(sys.executable, "-m", "fqselect", str(path), *args)
    return seconds, rss


def decode_command_seconds(path: Path) -> float:
    return launch(sys.executable, "-c", DECODE_COMMAND, str(path))[0]


# The command as typed (a table on stdout, a summary on stderr) and as a pipeline runs it.
COMMAND_FORMS = {"table": ("--top", "3"), "jsonl": ("--top", "3", "--jsonl", "-q")}


def paired_command_ratios(path: Path, repeats: int = 15) -> tuple[float, dict[str, tuple[float, float]], int]:
    """Decode-only command seconds; per command form, its seconds and the ratio (decode-only over it),
    each the median over `repeats` rounds of back-to-back runs (start-up included on every side); and
    the JSON-lines form's peak RSS (MiB)."""
    decode_runs, runs, rss = [], {form: [] for form in COMMAND_FORMS}, 0
    for _ in range(repeats):
        decode_s = decode_command_seconds(path)
        decode_runs.append(decode_s)
        for form, args in COMMAND_FORMS.items():
            seconds, peak = fqselect_command(path, *args)
            runs[form].append((decode_s / seconds, seconds))
            if form == "jsonl":
                rss = max(rss, peak)
    forms = {form: (statistics.median(s for _, s in pairs), statistics.median(r for r, _ in pairs))
             for form, pairs in runs.items()}
    return statistics.median(decode_runs), forms, rss


def pipeline_run(path: Path, **options) -> tuple[float, object]:
    """Seconds of the per-input job with models already loaded, and its result."""
    opts = Options(**options)
    models_for(opts)
    start = time.perf_counter()
    result = process_input(str(path), opts)
    return time.perf_counter() - start, result


def paired_ratio(path: Path, repeats: int = 7) -> tuple[float, float, float, object]:
    """Decode-only fps, default fps and their ratio, as the median of `repeats` back-to-back pairs:
    on a shared 2-core VM either speed alone drifts by 10-20% from run to run."""
    pairs = []
    for _ in range(repeats):
        decode_fps, frames = decode_only_fps(path)
        seconds, result = pipeline_run(path)
        pairs.append((frames / seconds / decode_fps, decode_fps, frames / seconds, result))
    ratio, decode_fps, default_fps, result = sorted(pairs, key=lambda p: p[0])[len(pairs) // 2]
    return decode_fps, default_fps, ratio, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[400, 1500])
    parser.add_argument("--skip-rss", action="store_true", help="skip the 1- and 10-minute memory runs")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video.md")
    args = parser.parse_args()
    compile_bytecode()
    keep_freed_memory()  # the allocator policy of the command and its batch workers, for both loops alike
    make = examples_module()
    work = Path(tempfile.mkdtemp(prefix="fqvideo-"))
    lines = [
        "| clip | frames | decode-only fps | default fps (pipeline) | **ratio** | detector runs: whole frames + face regions | exhaustive fps | ratio | "
        "top-1 quality default / exhaustive | decode-only fps (command) | `--top 3` fps (command, table) | **ratio** | "
        "`--top 3 --jsonl -q` fps (command) | **ratio** | peak RSS (command) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for frames in args.frames:
        for width, height in ((1280, 720), (1920, 1080)):
            clip = work / f"group_{width}x{height}_{frames}.mp4"
            make.make_group_clip(clip, (width, height), frames)
            decode_fps, default_fps, ratio, default = paired_ratio(clip)
            exhaustive_s, exhaustive = pipeline_run(clip, exhaustive=True)
            decode_cmd_s, forms, rss = paired_command_ratios(clip)
            (table_s, table_ratio), (jsonl_s, jsonl_ratio) = forms["table"], forms["jsonl"]
            top, best = default.picks[0].quality, exhaustive.picks[0].quality
            lines.append(
                f"| {width}×{height}, 6 faces | {frames} | {decode_fps:.0f} | {default_fps:.0f} | "
                f"**{ratio:.2f}** | {default.frames_analysed} + {default.regions_analysed} | {frames / exhaustive_s:.1f} | "
                f"{frames / exhaustive_s / decode_fps:.2f} | {top:.4f} / {best:.4f} ({100 * (top / best - 1):+.1f}%) | "
                f"{frames / decode_cmd_s:.0f} | {frames / table_s:.0f} | **{table_ratio:.2f}** | "
                f"{frames / jsonl_s:.0f} | **{jsonl_ratio:.2f}** | {rss} MiB |")
            print(lines[-1], flush=True)
    if not args.skip_rss:
        lines += ["", "| input (640×360, 25 fps, default settings) | frames | seconds | peak RSS |", "| --- | --- | --- | --- |"]
        for minutes in (1, 10):
            clip = work / f"long_{minutes}min.mp4"
            make.make_group_clip(clip, (640, 360), minutes * 60 * 25)
            seconds, rss = fqselect_command(clip, *COMMAND_FORMS["jsonl"])
            lines.append(f"| {minutes} minute(s) | {minutes * 1500} | {seconds:.1f} | {rss} MiB |")
            print(lines[-1], flush=True)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
