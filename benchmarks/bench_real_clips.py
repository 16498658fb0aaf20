"""The default video path against --exhaustive on the real clips of ../shared/videos: top-1 quality.

    python benchmarks/bench_real_clips.py [--videos ../shared/videos] [--out benchmarks/results/real_clips.md]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqselect.run.job import process_input  # noqa: E402
from fqselect.options import Options  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=Path(os.environ.get("FQ_SHARED", ROOT.parent / "shared")) / "videos")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "real_clips.md")
    args = parser.parse_args()
    clips = sorted(args.videos.glob("*.mp4"))
    if not clips:
        sys.exit(f"{args.videos}: no clips; nothing to measure")
    lines = ["| clip | frames | detector runs: whole + regions | top-1 default | top-1 exhaustive | difference |",
             "| --- | --- | --- | --- | --- | --- |"]
    for clip in clips:
        default = process_input(str(clip), Options(top=1))
        exhaustive = process_input(str(clip), Options(top=1, exhaustive=True))
        d, e = default.picks[0], exhaustive.picks[0]
        lines.append(f"| {clip.stem} | {default.frames_decoded} | {default.frames_analysed} + {default.regions_analysed} | "
                     f"{d.quality:.4f} (frame {d.frame}) | {e.quality:.4f} (frame {e.frame}) | {100 * (d.quality - e.quality) / e.quality:+.2f}% |")
        print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
