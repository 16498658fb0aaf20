"""--start seeks: analysing the last seconds of a long clip costs about what the first seconds cost,
not the decoding of everything before them.

    python benchmarks/bench_seek.py [--minutes 10] [--rounds 3] [--out benchmarks/results/seek.md]

Writes a 640×360, 25 fps clip (a keyframe every 2 s, as cameras write them) with a face in it, then times,
in one run and as a user types them: `fqselect clip --start T --end T+10` near the end (seeking), the same
ten seconds at the start (`--end 10`: the baseline, nothing to skip) and, for scale, decoding the whole
clip with OpenCV (what reaching T cost before --start seeked). The ratio seek / baseline is the target:
at most 1.5.
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
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

FPS, SIZE, GOP = 25, (640, 360), 50


def write_long_clip(path: Path, minutes: float) -> None:
    import av
    from make_example import face_scene, sample_photo

    scene = face_scene(sample_photo(), SIZE)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.codec_context.gop_size = GOP
        for i in range(int(minutes * 60 * FPS)):
            image = np.roll(scene, 2 * (i % 50), axis=1)  # a little motion, so frames differ
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def decode_all(path: Path) -> float:
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    while capture.grab():
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "seek.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "long.mp4"
        write_long_clip(clip, args.minutes)
        end = args.minutes * 60
        fqselect = [sys.executable, "-m", "fqselect", str(clip), "--top", "3"]
        seek, head, decode = [], [], []
        for _ in range(args.rounds):  # interleaved, so drift in the machine's speed hits both alike
            seek.append(timed(fqselect + ["--start", str(end - 10), "--end", str(end)]))
            head.append(timed(fqselect + ["--end", "10"]))
            decode.append(decode_all(clip))
    s, h, d = (statistics.median(x) for x in (seek, head, decode))
    lines = [f"{args.minutes:g}-minute 640×360 clip, keyframe every {GOP / FPS:g} s; medians of {args.rounds} rounds",
             "", "| command | seconds |", "| --- | --- |",
             f"| `--start {end - 10:g} --end {end:g}` (seeks) | {s:.2f} |",
             f"| `--end 10` (baseline: the first ten seconds) | {h:.2f} |",
             f"| decoding the whole clip (OpenCV grab only) | {d:.2f} |",
             "", f"seek / baseline = **{s / h:.2f}** (target ≤ 1.5); decoding to the start would have cost {d:.1f} s more"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
