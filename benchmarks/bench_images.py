"""Image modes against reading the images: `fqselect score FOLDER` and `fqselect FOLDER --top 3`.

    python benchmarks/bench_images.py [--images 300] [--rounds 3] [--out benchmarks/results/images.md]

Writes `--images` JPEG frames of the six-face group scene (1280×720) into a folder, then, in one run and
taking turns for `--rounds` rounds (medians): a decode-only loop (`cv2.imread` of every file, one
process), `fqselect score FOLDER --jsonl` (every face of every image: detected, aligned, scored) and
`fqselect FOLDER --top 3 --jsonl -q` (the folder as one template). Every image needs a whole-frame
detection, so these run at the detector's pace, not the decoder's: images/s and faces/s are reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, examples_module, write_report  # noqa: E402

READ_COMMAND = "import cv2, pathlib, sys\nfor p in sorted(pathlib.Path(sys.argv[1]).iterdir()):\n    cv2.imread(str(p))\n"


def timed(*argv: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - start, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "images.md")
    args = parser.parse_args()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="fqimages-"))
    clip, folder = work / "group.mp4", work / "frames"
    examples_module().make_group_clip(clip, (1280, 720), args.images)
    folder.mkdir()
    capture = cv2.VideoCapture(str(clip))
    for i in range(args.images):
        ok, frame = capture.read()
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    runs = {"read": [], "score": [], "folder": []}
    faces = 0
    for _ in range(args.rounds):
        runs["read"].append(timed(sys.executable, "-c", READ_COMMAND, str(folder))[0])
        seconds, out = timed(sys.executable, "-m", "fqselect", "score", str(folder), "--jsonl")
        runs["score"].append(seconds)
        faces = sum(1 for line in out.splitlines() if '"quality"' in line)
        runs["folder"].append(timed(sys.executable, "-m", "fqselect", str(folder), "--top", "3", "--jsonl", "-q")[0])
    median = {name: statistics.median(r) for name, r in runs.items()}
    lines = [
        f"{args.images} JPEG images (1280×720, six faces each: {faces} faces scored), medians of {args.rounds} rounds taken in turn",
        "",
        "| run | seconds | images/s | faces/s | ratio to reading |",
        "| --- | --- | --- | --- | --- |",
        f"| decode-only (`cv2.imread` loop, one process) | {median['read']:.1f} | {args.images / median['read']:.0f} | – | 1.00 |",
        f"| `fqselect score FOLDER --jsonl` | {median['score']:.1f} | {args.images / median['score']:.1f} | "
        f"{faces / median['score']:.0f} | {median['read'] / median['score']:.2f} |",
        f"| `fqselect FOLDER --top 3 --jsonl -q` | {median['folder']:.1f} | {args.images / median['folder']:.1f} | – | "
        f"{median['read'] / median['folder']:.2f} |",
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
