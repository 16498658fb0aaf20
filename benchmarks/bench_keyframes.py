"""The archive mode: `--keyframes` with longer windows on IP-camera-style streams.

    python benchmarks/bench_keyframes.py [--rounds 3] [--out benchmarks/results/keyframes.md]

Generates the six-face group scene as an IP camera encodes it (H.264, no B-frames, a keyframe a second)
at 1280×720 for 30 s and 3 minutes and at 1920×1080 for 30 s, then for each `--window`: the whole command
`fqselect CLIP --top 3 --jsonl -q --keyframes --window W` against a decode-only OpenCV `read()` loop run
as a whole process too (medians of `--rounds` paired rounds), the keyframes it decoded, and its top-1
quality against `--exhaustive` (every frame through the detector, models loaded).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, examples_module  # noqa: E402
from bench_video import COMMAND, DECODE_COMMAND, launch, pipeline_run, top1  # noqa: E402

CLIPS = (((1280, 720), 30, (1, 5)), ((1920, 1080), 30, (1, 5)), ((1280, 720), 180, (1, 3, 5, 10)))


def command_ratio(path: Path, window: float, rounds: int) -> float:
    """Median over paired rounds of the decode-only command's seconds over fqselect's."""
    ratios = []
    for _ in range(rounds):
        decode_s, _ = launch(sys.executable, "-c", DECODE_COMMAND, str(path))
        seconds, _ = launch(sys.executable, "-m", "fqselect", str(path), *COMMAND, "--keyframes", "--window", str(window))
        ratios.append(decode_s / seconds)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "keyframes.md")
    args = parser.parse_args()
    compile_bytecode()
    lines = ["| clip | `--keyframes` | keyframes decoded | command ratio | top-1 (`--exhaustive`) |", "| --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for (width, height), seconds, windows in CLIPS:
            clip = Path(tmp) / f"camera_{height}p_{seconds}s.mp4"
            examples_module().make_group_clip(clip, (width, height), seconds * 25, encoding="h264-camera")
            best = top1(pipeline_run(clip, exhaustive=True)[1])
            for window in windows:
                _, result = pipeline_run(clip, keyframes=True, window=window)
                lines.append(f"| {seconds} s, {width}×{height} | `--window {window}` | {result.frames_decoded} | "
                             f"**{command_ratio(clip, window, args.rounds):.2f}** | {top1(result):.4f} "
                             f"({best:.4f}: {100 * (top1(result) / best - 1):+.1f}%) |")
                print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
