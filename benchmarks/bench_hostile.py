"""A hostile archive in one call: every input accounted for, no traceback, no library noise, bounded
memory, and how long it took.

    python benchmarks/bench_hostile.py [--rounds 100] [--out benchmarks/results/hostile.md]

The corpus (seeded): truncated and bit-flipped videos and images, random bytes, empty files, wrong
extensions, PNGs whose header claims 60000×60000, a FIFO, a symlink loop, a missing path, names that
are not UTF-8, 250-byte names and names with newlines (passed NUL-separated on stdin with -0), and one
good clip last. Peak RSS is the largest of the command's processes (the parent and its workers).
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "example.mp4"


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height (a few hundred bytes of actual data)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def hostile_corpus(folder: Path, photo: Path, rounds: int, seed: int = 0, odd: bool = True) -> list[str]:
    """`rounds` × 10 damaged files, plus (with `odd`) the odd kinds once each; their paths."""
    rng = np.random.default_rng(seed)
    video, jpeg = EXAMPLE.read_bytes(), photo.read_bytes()
    png = cv2.imencode(".png", cv2.resize(cv2.imread(str(photo)), (160, 120)))[1].tobytes()

    def flipped(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(int(rng.integers(1, 40))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        return bytes(data)

    paths = []
    for i in range(rounds):
        for name, data in [("trunc.mp4", video[: int(rng.integers(100, len(video)))]), ("flip.mp4", flipped(video)),
                           ("trunc.jpg", jpeg[: int(rng.integers(10, len(jpeg)))]), ("flip.jpg", flipped(jpeg)),
                           ("flip.png", flipped(png)), ("random.mp4", rng.bytes(int(rng.integers(1, 4000)))),
                           ("random.jpg", rng.bytes(int(rng.integers(1, 4000)))), ("empty.png", b""),
                           ("video-named.png", video[:20000]), ("jpeg-named.mp4", jpeg)]:
            path = folder / f"{i:04d}_{name}"
            path.write_bytes(data)
            paths.append(str(path))
    if odd:
        (folder / "huge-header.png").write_bytes(png_claiming(60000, 60000))
        os.mkfifo(folder / "fifo.mp4")
        os.symlink(folder / "loop-b", folder / "loop-a")
        os.symlink(folder / "loop-a", folder / "loop-b")
        weird = [os.fsdecode(os.fsencode(str(folder)) + b"/bad\xffname.mp4"), str(folder / ("x" * 250 + ".mp4")),
                 str(folder / "new\nline.mp4")]
        for name in weird:
            Path(name).write_bytes(video)
        paths += [str(folder / "huge-header.png"), str(folder / "fifo.mp4"), str(folder / "loop-a"),
                  str(folder / "missing.mp4"), *weird]
    good = folder / "zz_good.mp4"
    good.write_bytes(video)
    return paths + [str(good)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100, help="10 damaged files a round")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile.md")
    args = parser.parse_args()
    import insightface

    photo = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        paths = hostile_corpus(Path(tmp) / "in", photo, args.rounds) if (Path(tmp) / "in").mkdir() is None else []
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "fqselect", "-", "-0", "--top", "1", "--jsonl", "--out", str(Path(tmp) / "out"),
                               "--workers", str(args.workers)], input="\0".join(paths).encode(errors="surrogateescape"),
                              capture_output=True, timeout=3600)
        seconds = time.perf_counter() - started
        stderr = proc.stderr.decode(errors="replace")
        leftovers = [p.name for p in (Path(tmp) / "out").glob(".*")]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = next((line for line in stderr.splitlines() if " inputs: " in line), "(no summary line)")
    stray = [line for line in stderr.splitlines() if line and not line.startswith("fqselect")]
    picks = [line for line in proc.stdout.decode(errors="replace").splitlines() if line.startswith("{")]
    lines = [f"{len(paths)} inputs in one call (`-0` on stdin, `--workers {args.workers}`, `--out`); seed 0", "",
             "| figure | value |", "| --- | --- |",
             f"| exit code | {proc.returncode} |", f"| summary | `{summary}` |",
             f"| inputs picked from | {len(picks)} (the good clip last among them: {'yes' if any('zz_good' in p for p in picks) else 'NO'}) |",
             f"| tracebacks | {stderr.count('Traceback')} |", f"| stderr lines not fqselect's own | {len(stray)} |",
             f"| staging folders left | {len(leftovers)} |", f"| wall time | {seconds:.1f} s ({1000 * seconds / len(paths):.0f} ms an input) |",
             f"| peak RSS of any one process | {peak:.0f} MiB |"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
