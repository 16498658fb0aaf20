"""Eye openness on the real talking clips of ../shared/videos, against the eye aspect ratio of dlib's 68
landmarks (benchmarks/landmarks.py: an evaluation tool only, never a training signal).

    python benchmarks/bench_eyes.py [--videos ../shared/videos] [--out benchmarks/results/eyes.md]

Every frame's largest face (the measures cached by bench_picks.py) is scored by fqselect's eye openness
(`eyes_open`) and labelled two ways by its more closed eye's aspect ratio (frames between the two bounds
are left out: half-closed, or dlib unsure): against the blink literature's absolute bounds (shut under
0.15, open over 0.25), and relative to the clip (shut under 0.6 of its median, open over 0.85 of it: a
person with narrow or made-up eyes has a lower ratio throughout). Reported: closed-versus-open AUC per
clip and pooled, the share of open eyes read under 0.5 and of shut ones read over 0.5, and talking_d10's
frames 48, 128, 160, 176 and 208 (open eyes under heavy eyeliner). The labels are only as good as dlib's
landmarks, which slip on glasses and turned heads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_picks import frame_measures  # noqa: E402

from fqselect.decode import open_input  # noqa: E402
from fqselect.faces import FaceBatch, detect_and_align  # noqa: E402
from fqselect.faces.detect import load_detector  # noqa: E402
from fqselect.quality.eyes import EyeOpenness  # noqa: E402

SHUT_SHARE, OPEN_SHARE = 0.6, 0.85
SHUT_EAR, OPEN_EAR = 0.15, 0.25
D10_OPEN = (48, 128, 160, 176, 208)


def auc(score: np.ndarray, is_open: np.ndarray) -> float:
    """How often an open eye scores above a shut one (ties count half)."""
    opened, shut = score[is_open], score[~is_open]
    if not len(opened) or not len(shut):
        return float("nan")
    greater = (opened[:, None] > shut[None, :]).mean() + 0.5 * (opened[:, None] == shut[None, :]).mean()
    return float(greater)


def clip_scores(clip: Path, model: EyeOpenness, detector) -> tuple[np.ndarray, np.ndarray]:
    """Each measured frame's index and its largest face's eye openness."""
    indexes, faces = [], []
    with open_input(str(clip)) as source:
        for frame in source.frames():
            found = detect_and_align(frame.image, detector)
            if len(found):
                largest = int(np.argmax(np.prod(found.boxes[:, 2:] - found.boxes[:, :2], axis=1)))
                faces.append(found.take(np.array([largest])))
                indexes.append(frame.index)
    return np.array(indexes), model.score(FaceBatch.concat(faces))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "videos")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eyes.md")
    args = parser.parse_args()
    model, detector = EyeOpenness(), load_detector("retinaface")
    lines = ["| clip | shut / open, absolute | AUC | shut / open, relative | AUC | open read < 0.5 | shut read > 0.5 |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    pooled_score, pooled_open, d10 = [], [], {}
    absolute_score, absolute_open = [], []
    for clip in sorted(args.videos.glob("talking_*.mp4")):
        measures = frame_measures(clip)
        indexes, score = clip_scores(clip, model, detector)
        ear = dict(zip(measures["index"].tolist(), measures["ear"]))
        median = np.median(measures["ear"])
        shut = np.array([ear.get(i, np.nan) < SHUT_SHARE * median for i in indexes])
        opened = np.array([ear.get(i, np.nan) > OPEN_SHARE * median for i in indexes])
        keep = shut | opened
        pooled_score.append(score[keep])
        pooled_open.append(opened[keep])
        ratio = np.array([ear.get(i, np.nan) for i in indexes])
        a_shut, a_open = ratio < SHUT_EAR, ratio > OPEN_EAR
        absolute_score.append(score[a_shut | a_open])
        absolute_open.append(a_open[a_shut | a_open])
        lines.append(f"| {clip.stem} | {a_shut.sum()} / {a_open.sum()} | {auc(score[a_shut | a_open], a_open[a_shut | a_open]):.3f} | "
                     f"{shut.sum()} / {opened.sum()} | {auc(score[keep], opened[keep]):.3f} | "
                     f"{np.mean(score[opened] < 0.5):.3f} | {np.mean(score[shut] > 0.5) if shut.any() else float('nan'):.3f} |")
        if clip.stem == "talking_d10":
            d10 = {int(i): float(s) for i, s in zip(indexes, score) if i in D10_OPEN}
        print(lines[-1], flush=True)
    score, is_open = np.concatenate(pooled_score), np.concatenate(pooled_open)
    a_score, a_open = np.concatenate(absolute_score), np.concatenate(absolute_open)
    lines.append(f"| all | {(~a_open).sum()} / {a_open.sum()} | **{auc(a_score, a_open):.3f}** | "
                 f"{(~is_open).sum()} / {is_open.sum()} | **{auc(score, is_open):.3f}** | "
                 f"{np.mean(score[is_open] < 0.5):.3f} | {np.mean(score[~is_open] > 0.5):.3f} |")
    lines += ["", "talking_d10's open, made-up eyes: " + ", ".join(f"frame {i} {v:.2f}" for i, v in sorted(d10.items()))]
    args.out.write_text("\n".join(["# Eye openness on the talking clips (`python benchmarks/bench_eyes.py`)", "", *lines, ""]))
    print("\n".join(lines[-3:]))


if __name__ == "__main__":
    main()
