"""Eye openness on real talking-head clips: does the quality score rise with open eyes, as the
recogniser's own similarity does, and do the picks avoid closed or winking eyes?

    python benchmarks/bench_eyes.py [--videos ../shared/videos] [--scorers tinyfqnet,...] [--out benchmarks/results]

For every analysed frame of every clip (every 2nd frame): the largest face is detected, aligned and
scored by each scorer (ours, the peers, the perceptual ones) and embedded by SFace; its similarity to
the clip's centre (mean embedding of all its faces) is what the recogniser thinks of it. Eye openness
is dlib's 68-point landmarks' eye aspect ratio (EAR) of the more closed eye, measured on the source
frame: an evaluation tool only, never a training signal. Reported per clip: Spearman correlation of
each scorer, of the eye-openness network (`eyes`), of what the picks rank by under --eyes open (the
quality times `eyes.eye_factor` of the openness: `QUALITY×eyes`) and of the SFace similarity with EAR, and for `fqselect
CLIP --top 5` (the default path) how many picks have an eye closed (EAR < 0.18) in each --eyes mode
(any: quality alone; prefer, the default: open eyes break near-ties; open).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqselect.faces.align import detect_and_align  # noqa: E402
from fqselect.decode import Sampling, open_input  # noqa: E402
from fqselect.options import EYES_MODES  # noqa: E402
from fqselect.quality.eyes import eye_factor  # noqa: E402
from fqselect.faces.detect import load_detector  # noqa: E402
from fqselect.faces.sface import SFaceRecognizer  # noqa: E402
from fqselect.zoo.files import packaged_model  # noqa: E402
from fqselect.run.job import process_input  # noqa: E402
from fqselect.research.evaluate import PEER_SPEC, default_peers, peer_name  # noqa: E402
from fqselect.options import Options  # noqa: E402
from fqselect.quality.network import NetworkScorer
from fqselect.quality import load_scorer  # noqa: E402

CLOSED_EAR = 0.18  # below this the eye is shut or nearly (blink studies use 0.18-0.25)
EVERY = 2


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    rank = lambda x: np.argsort(np.argsort(x)).astype(float)  # noqa: E731
    return float(np.corrcoef(rank(a), rank(b))[0, 1])


class EyeMeter:
    """Eye aspect ratio of the more closed eye from dlib's 68-point shape predictor."""

    def __init__(self):
        import dlib

        self.dlib = dlib
        self.predictor = dlib.shape_predictor(str(packaged_model("shape_predictor_68_face_landmarks.dat", "face_recognition_models")))

    def ear(self, image: np.ndarray, box) -> float:
        gray = np.ascontiguousarray(image.mean(axis=2).astype(np.uint8))
        shape = self.predictor(gray, self.dlib.rectangle(*[int(v) for v in box]))
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float64)

        def one(eye):
            p = points[eye]
            return (np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]) + 1e-9)

        return float(min(one(list(range(36, 42))), one(list(range(42, 48)))))


def measure_clip(path: Path, scorers: dict, detector, recognizer, eyes: EyeMeter) -> dict:
    rows = {"ear": [], "sface": [], **{name: [] for name in scorers}}
    crops = []
    with open_input(str(path), Sampling(every=EVERY)) as source:
        for frame in source.frames():
            faces = detect_and_align(frame.image, detector)
            if not len(faces):
                continue
            i = int(np.argmax(np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1)))
            one = faces.take([i])
            for name, scorer in scorers.items():
                rows[name].append(float(scorer.score(one)[0]))
            rows["ear"].append(eyes.ear(frame.image, faces.boxes[i]))
            crops.append(faces.crops[i])
    embeddings = recognizer.embed(np.stack(crops))
    centre = embeddings.mean(axis=0)
    rows["sface"] = list(embeddings @ (centre / np.linalg.norm(centre)))
    return {k: np.array(v) for k, v in rows.items()}


def picks_with_closed_eyes(path: Path, scorer: str, eyes: EyeMeter, mode: str) -> tuple[int, int]:
    result = process_input(str(path), Options(top=5, scorer=scorer, eyes=mode))
    closed = sum(eyes.ear(p.image, p.bbox) < CLOSED_EAR for p in result.picks)
    return closed, len(result.picks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=Path(os.environ.get("FQ_SHARED", ROOT.parent / "shared")) / "videos")
    parser.add_argument("--scorers", default="tinyfqnet,eyes,blur,pose,combined", help="comma-separated; the peers are added when present")
    parser.add_argument("--picks", default="tinyfqnet", help="comma-separated scorers whose --top 5 picks are checked")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    clips = sorted(args.videos.glob("talking_*.mp4"))
    if not clips:
        sys.exit(f"{args.videos}: no talking_*.mp4 clips; nothing to measure")
    scorers = {name: load_scorer(name) for name in args.scorers.split(",")}
    scorers.update({peer_name(p): NetworkScorer(p, PEER_SPEC, peer_name(p)) for p in default_peers()})
    detector, recognizer, eyes = load_detector("retinaface"), SFaceRecognizer(), EyeMeter()
    pick_scorers = args.picks.split(",")
    # what the picks rank by under --eyes open: each network's quality times the openness
    merits = [f"{name}×eyes" for name in pick_scorers if "eyes" in scorers and name in scorers]
    columns = ["sface", *scorers, *merits]
    header = ["clip", "faces", "closed share", "SFace sim", *scorers, *merits,
              *[f"{s} top-5 closed, --eyes {mode}" for s in pick_scorers for mode in EYES_MODES]]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    totals = {name: [] for name in columns}
    for clip in clips:
        rows = measure_clip(clip, scorers, detector, recognizer, eyes)
        for merit in merits:
            rows[merit] = rows[merit.split("×")[0]] * eye_factor(rows["eyes"])
        correlations = {name: spearman(rows["ear"], rows[name]) for name in columns}
        for name, value in correlations.items():
            totals[name].append(value)
        closed_share = float((rows["ear"] < CLOSED_EAR).mean())
        pick_cells = []
        for name in pick_scorers:
            for mode in EYES_MODES:
                closed, picked = picks_with_closed_eyes(clip, name, eyes, mode)
                pick_cells.append(f"{closed}/{picked}")
        line = [clip.stem, str(len(rows["ear"])), f"{closed_share:.2f}", *[f"{correlations[n]:+.2f}" for n in columns], *pick_cells]
        lines.append("| " + " | ".join(line) + " |")
        print(lines[-1], flush=True)
    lines.append("| **mean** | | | " + " | ".join(f"**{np.mean(totals[n]):+.2f}**" for n in columns) + " |"
                 + " |" * (len(pick_scorers) * len(EYES_MODES)))
    text = ("Spearman correlation with eye openness (EAR of the more closed eye, dlib 68 points) over the largest "
            f"face of every {EVERY}nd frame; `closed` is EAR < {CLOSED_EAR}. `top-5 closed`: picks of "
            "`fqselect CLIP --top 5` with an eye closed.\n\n" + "\n".join(lines) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eyes.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
