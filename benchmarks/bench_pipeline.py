"""Throughput of the whole `fqselect` command against the decoder's own speed, and cost per face of each
stage, measured in one run on the same machine.

    python benchmarks/bench_pipeline.py [--frames 300] [--out benchmarks/results/pipeline.md]

Clips: the bundled example (480×360, 80 frames, one face) and a generated 1280×720 group clip (six faces).
For each: decode-only fps (a plain OpenCV read loop, the baseline), then the whole command at default
settings and at --every 5 (wall time of `python -m fqselect`, model loading included, and the in-process
pipeline alone), as fps and as a ratio to decode-only. Then ms per face for detection, alignment,
quality scoring and embedding.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqselect.faces.align import align_faces  # noqa: E402
from fqselect.run.job import process_input
from fqselect.run.bundle import models_for
from fqselect.options import Options  # noqa: E402


def examples_module():
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compile_bytecode() -> None:
    """fqselect's modules compiled to bytecode, as `pip install` (or any first run) leaves them. Where
    PYTHONDONTWRITEBYTECODE is set (this project's VMs set it) and fqselect is installed in editable
    mode, every timed command would otherwise recompile its ~25 modules (~25 ms a run), which the
    baseline's installed cv2 never does."""
    compileall.compile_dir(ROOT / "fqselect", quiet=1)


def decode_only_fps(path: Path) -> tuple[float, int]:
    capture = cv2.VideoCapture(str(path))
    count, start = 0, time.perf_counter()
    while capture.read()[0]:
        count += 1
    return count / (time.perf_counter() - start), count


def command_fps(path: Path, frames: int, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fqselect", str(path), "--jsonl", "-q", *args], check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)
    return frames / (time.perf_counter() - start)


def pipeline_fps(path: Path, frames: int, **options) -> float:
    opts = Options(**options)
    models_for(opts)  # loaded once, as a batch run would
    start = time.perf_counter()
    process_input(str(path), opts)
    return frames / (time.perf_counter() - start)


def stage_costs(path: Path, samples: int = 40) -> dict[str, float]:
    """ms per face of each stage, on frames of the clip."""
    models = models_for(Options())
    capture = cv2.VideoCapture(str(path))
    frames = [capture.read()[1] for _ in range(samples)]
    timings = {"detection (per frame)": [], "faces": 0}
    detections = []
    for frame in frames:
        start = time.perf_counter()
        detections.append(models.detector.detect(frame))
        timings["detection (per frame)"].append(time.perf_counter() - start)
    faces = sum(len(d) for d in detections)
    start = time.perf_counter()
    crops = np.concatenate([align_faces(f, d.landmarks) for f, d in zip(frames, detections)])
    align_ms = (time.perf_counter() - start) * 1000 / faces
    from fqselect.faces.batch import FaceBatch

    batch = FaceBatch.from_crops(crops)
    models.scorer.score(batch)
    start = time.perf_counter()
    models.scorer.score(batch)
    score_ms = (time.perf_counter() - start) * 1000 / faces
    recognizer = models.recognizer
    recognizer.embed(crops[:2])
    start = time.perf_counter()
    recognizer.embed(crops)
    embed_ms = (time.perf_counter() - start) * 1000 / faces
    detect_frame_ms = 1000 * float(np.mean(timings["detection (per frame)"]))
    return {
        "faces per frame": faces / len(frames),
        "detection ms/frame": detect_frame_ms,
        "detection ms/face": detect_frame_ms * len(frames) / faces,
        "alignment ms/face": align_ms,
        f"scoring ms/face ({models.scorer.name}, batch {len(crops)})": score_ms,
        f"embedding ms/face ({recognizer.name})": embed_ms,
    }


def write_report(lines: list[str], out: Path) -> None:
    """Print the Markdown table and keep it under benchmarks/results/ for the README."""
    report = "\n".join(lines) + "\n"
    print(report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="length of the generated 1280x720 clip")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pipeline.md")
    args = parser.parse_args()
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="fqbench-"))
    group = work / "group_1280x720.mp4"
    examples_module().make_group_clip(group, (1280, 720), args.frames)
    clips = {"example.mp4 (480×360, 1 face)": ROOT / "examples" / "example.mp4", "group (1280×720, 6 faces)": group}
    lines = ["| clip | frames | decode-only fps | command fps (default) | ratio | command fps (--every 5) | ratio | "
             "pipeline fps (default, models loaded) | ratio |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, path in clips.items():
        decode_fps, frames = decode_only_fps(path)
        default_fps = command_fps(path, frames)
        every5_fps = command_fps(path, frames, "--every", "5")
        inproc_fps = pipeline_fps(path, frames)
        lines.append(f"| {label} | {frames} | {decode_fps:.1f} | {default_fps:.1f} | {default_fps / decode_fps:.2f} | "
                     f"{every5_fps:.1f} | {every5_fps / decode_fps:.2f} | {inproc_fps:.1f} | {inproc_fps / decode_fps:.2f} |")
        print(lines[-1], flush=True)
    costs = stage_costs(group)
    lines += ["", "| stage (1280×720 group clip) | value |", "| --- | --- |"]
    lines += [f"| {name} | {value:.2f} |" for name, value in costs.items()]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
