"""Would an enrollment user keep the picks? The default top-5 of each talking clip of ../shared/videos,
checked against landmark measures of every frame, with contact sheets to look at.

    python benchmarks/bench_picks.py [--videos ../shared/videos] [--before PATH] [--out benchmarks/results/picks.md]

Every frame's largest face is measured with dlib's 68 landmarks (benchmarks/landmarks.py, an evaluation
tool only; cached): a pick is a closed or winking eye when its more closed eye's aspect ratio is under
0.6 of the clip's median, a wide-open mouth when the inner lips are more than 0.45 of the mouth's width
apart, and turned when the head's yaw exceeds 20°. A clip "has free frames" when five frames at least a
second apart are free of all three. For each clip: `fqselect CLIP --top 5` (the default) and with
`--exhaustive`, their defects, and whether their first picks are one moment. `--before PATH` runs the
same commands with PYTHONPATH=PATH (an older checkout) for the sheet of the picks before a change.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from landmarks import FaceMeter  # noqa: E402

from fqselect.choose.topk import Candidate, greedy_picks  # noqa: E402
from fqselect.decode import open_input  # noqa: E402
from fqselect.faces import detect_and_align  # noqa: E402
from fqselect.faces.detect import load_detector  # noqa: E402
from fqselect.zoo.files import cache_dir  # noqa: E402

CLOSED_SHARE, WIDE_MOUTH, TURNED = 0.6, 0.45, 20.0
TOP = 5


def frame_measures(clip: Path) -> dict[str, np.ndarray]:
    """Every frame's largest face: index, time, eye aspect ratios, mouth opening, yaw (cached)."""
    cached = cache_dir() / "bench" / f"measures-{clip.stem}-{clip.stat().st_size}.npz"
    if cached.is_file():
        return dict(np.load(cached))
    detector, meter, rows = load_detector("retinaface"), FaceMeter(), []
    with open_input(str(clip)) as source:
        for frame in source.frames():
            faces = detect_and_align(frame.image, detector)
            if len(faces):
                largest = int(np.argmax(np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1)))
                m = meter.measure(frame.image, faces.boxes[largest])
                rows.append((frame.index, frame.time, m.ear_left, m.ear_right, m.mouth, m.yaw))
    a = np.array(rows, np.float64)
    measures = {"index": a[:, 0].astype(int), "time": a[:, 1], "ear": np.minimum(a[:, 2], a[:, 3]), "mouth": a[:, 4],
                "yaw": a[:, 5]}
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **measures)
    return measures


def defects(measures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"closed": measures["ear"] < CLOSED_SHARE * np.median(measures["ear"]),
            "mouth": measures["mouth"] > WIDE_MOUTH, "turned": np.abs(measures["yaw"]) > TURNED}


def free_frames(bad: np.ndarray, times: np.ndarray) -> int:
    """How many defect-free frames at least a second apart there are (up to TOP)."""
    good = np.flatnonzero(~bad)
    return len(greedy_picks([Candidate(0.0, float(times[i]), int(i)) for i in good], TOP, 1.0))


def run(clip: Path, out: Path, extra: list[str], pythonpath: str | None = None) -> list[dict]:
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    proc = subprocess.run([sys.executable, "-m", "fqselect", str(clip), "--top", str(TOP), "--jsonl", "-q", "--out",
                           str(out), "--overwrite", *extra], capture_output=True, text=True, env=env, cwd=pythonpath or ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def check(picks: list[dict], measures: dict, flags: dict) -> dict[str, int]:
    rows = [int(np.argmin(np.abs(measures["index"] - p["frame"]))) for p in picks]
    return {name: int(flag[rows].sum()) for name, flag in flags.items()}


def crop_of(pick: dict, folder: Path) -> np.ndarray:
    path = Path(pick["crop_file"])
    crop = cv2.imread(str(path if path.is_absolute() else folder / path.name))
    return cv2.resize(crop, (112, 112)) if crop is not None else np.full((112, 112, 3), 200, np.uint8)


def sheet(rows: list[tuple[str, list[np.ndarray], list[str]]], path: Path) -> None:
    """One row a clip: its name, then the picks' crops with a caption each."""
    width = 120 + TOP * 118
    canvas = np.full((len(rows) * 134, width, 3), 255, np.uint8)
    for r, (label, crops, captions) in enumerate(rows):
        top = r * 134
        cv2.putText(canvas, label, (4, top + 60), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
        for c, (crop, caption) in enumerate(zip(crops, captions)):
            left = 120 + c * 118
            canvas[top + 2 : top + 114, left : left + 112] = crop
            cv2.putText(canvas, caption, (left, top + 128), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (30, 30, 30), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), canvas)


def caption(pick: dict, measures: dict, flags: dict) -> str:
    row = int(np.argmin(np.abs(measures["index"] - pick["frame"])))
    marks = "".join(mark for mark, name in (("E", "closed"), ("M", "mouth"), ("T", "turned")) if flags[name][row])
    return f"f{pick['frame']} {marks or 'ok'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    parser.add_argument("--before", help="an older checkout to run the same commands with, for the 'before' sheet")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "picks.md")
    parser.add_argument("--sheets", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    clips = sorted(args.videos.glob("talking_*.mp4"))
    if not clips:
        sys.exit(f"no talking_*.mp4 in {args.videos}")
    lines = ["| clip | frames free of defects (of 5) | default top-5: closed eye / wide mouth / turned | frames | "
             "`--exhaustive` top-5: closed / mouth / turned | first pick default / exhaustive (s, score) | "
             + ("before: closed / mouth / turned |" if args.before else ""),
             "| --- | --- | --- | --- | --- | --- |" + (" --- |" if args.before else "")]
    sheets = {"after": [], "before": []}
    totals = {"default": np.zeros(3, int), "exhaustive": np.zeros(3, int), "before": np.zeros(3, int)}
    with tempfile.TemporaryDirectory() as work:
        for clip in clips:
            measures = frame_measures(clip)
            flags = defects(measures)
            free = free_frames(flags["closed"] | flags["mouth"] | flags["turned"], measures["time"])
            found = {}
            for mode, extra, path in (("default", [], None), ("exhaustive", ["--exhaustive"], None),
                                      *((("before", [], args.before),) if args.before else ())):
                folder = Path(work) / mode
                found[mode] = run(clip, folder, extra, path)
                counts = check(found[mode], measures, flags)
                totals[mode] += [counts["closed"], counts["mouth"], counts["turned"]]
                found[mode + "_counts"] = counts
                if mode in ("default", "before"):
                    sheets["after" if mode == "default" else "before"].append(
                        (clip.stem.replace("talking_", ""), [crop_of(p, folder / clip.stem) for p in found[mode]],
                         [caption(p, measures, flags) for p in found[mode]]))
            first = [found[m][0] for m in ("default", "exhaustive")]
            fmt = lambda c: f"{c['closed']} / {c['mouth']} / {c['turned']}"  # noqa: E731
            lines.append(f"| {clip.stem} | {free} | {fmt(found['default_counts'])} | "
                         f"{', '.join(str(p['frame']) for p in found['default'])} | {fmt(found['exhaustive_counts'])} | "
                         f"{first[0]['time']:.2f} / {first[1]['time']:.2f} ({first[0]['score']} / {first[1]['score']}) |"
                         + (f" {fmt(found['before_counts'])} |" if args.before else ""))
            print(lines[-1], flush=True)
    lines.append(f"| all | | {' / '.join(map(str, totals['default']))} | | {' / '.join(map(str, totals['exhaustive']))} | |"
                 + (f" {' / '.join(map(str, totals['before']))} |" if args.before else ""))
    args.out.write_text("\n".join(["# Picks on the talking clips (`python benchmarks/bench_picks.py`)", "", *lines, ""]))
    sheet(sheets["after"], args.sheets / "picks_after.png")
    if args.before:
        sheet(sheets["before"], args.sheets / "picks_before.png")
    print("\n".join(lines[-1:]))


if __name__ == "__main__":
    main()
