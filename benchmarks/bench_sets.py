"""Template top-1 TAR on identities no training data holds: does ranking each set by the recogniser's
agreement choose better photos than the networks alone, LightQNet's peers included?

    python benchmarks/bench_sets.py [--seeds 5] [--shared ../shared] [--out benchmarks/results/sets.md]

Each held-out identity with 4 or more photos (CelebA's held-out identities, LFW's DevTest people) is split
into random halves, once a seed; each half is a folder of the original photos (symlinks) given to the
`fqselect` command, `--top 3 --embeddings`, as a user gives it: the default (set-aware) and `--scorer
tinyfqnet` (the network alone). The LightQNet peers (../shared/peers) choose from the same halves: every
face of every photo, detected and aligned as fqselect does, the best by the peer's score. Template top-1
TAR at FAR 1e-3: half A's first pick against half B's, genuine for the same identity, impostor otherwise,
the threshold at FAR 1e-3 of that seed's impostor pairs; judged with SFace and with dlib's ResNet (the
eval extra). For the default also the template of `--embeddings` (the quality-weighted mean of the three
picks' SFace embeddings) and their plain mean. Intervals: 95% over 1,000 resamplings of the identities.
Also the calibration of `quality` on these identities: each first pick's quality against whether it
matches the other half's first pick at SFace's FMR 1e-3 threshold.
Measured once, at the end, after every choice was made on the validation split.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqselect.decode import folder_images, read_image  # noqa: E402
from fqselect.faces import detect_and_align  # noqa: E402
from fqselect.faces.detect import load_detector  # noqa: E402
from fqselect.faces.recognize import load_recognizer  # noqa: E402
from fqselect.quality.network import NetworkScorer  # noqa: E402
from fqselect.research.calibration import calibration_error  # noqa: E402
from fqselect.research.dataset import read_people  # noqa: E402
from fqselect.research.evaluate import PEER_SPEC, default_peers, peer_name  # noqa: E402
from fqselect.research.train import celeba_heldout_people  # noqa: E402

FAR = 1e-3
MIN_PHOTOS = 4
TOP = 3


def identities(shared: Path) -> dict[str, dict[str, list[Path]]]:
    """dataset -> identity -> its photos, for the held-out identities with MIN_PHOTOS or more."""
    lfw = shared / "data" / "lfw"
    celeba = shared / "data" / "celeba" / "images"
    chosen = {"celeba-heldout": {name: folder_images(celeba / name) for name in celeba_heldout_people(celeba)},
              "lfw-devtest": {name: folder_images(lfw / "images" / name) for name in sorted(read_people(lfw / "peopleDevTest.txt"))
                              if (lfw / "images" / name).is_dir()}}
    return {ds: {n: p for n, p in people.items() if len(p) >= MIN_PHOTOS} for ds, people in chosen.items()}


def halves(people: dict[str, list[Path]], seed: int) -> dict[str, tuple[list[Path], list[Path]]]:
    rng = np.random.default_rng(seed)
    split = {}
    for name, photos in people.items():
        order = rng.permutation(len(photos))
        split[name] = ([photos[i] for i in order[: len(order) // 2]], [photos[i] for i in order[len(order) // 2:]])
    return split


def run_command(folders: list[Path], out: Path, extra: list[str]) -> dict[str, list[dict]]:
    """folder -> its picks (records), from one `fqselect` run over all the folders."""
    proc = subprocess.run([sys.executable, "-m", "fqselect", "-", "--top", str(TOP), "--jsonl", "-q", "--out", str(out),
                           "--embeddings", *extra], input="\n".join(map(str, folders)), capture_output=True, text=True,
                          cwd=ROOT)
    picks: dict[str, list[dict]] = {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        picks.setdefault(str(Path(record["source"]).parent), []).append(record)
    return picks


def tar(a: np.ndarray, b: np.ndarray, ids: np.ndarray | None = None) -> float:
    """TAR at FAR 1e-3: rows of a against rows of b, genuine on the diagonal; impostors are the pairs of
    different identities (`ids`: each row's identity, so that a resampled identity drawn twice is no
    impostor of itself)."""
    ids = np.arange(len(a)) if ids is None else ids
    similarity = a @ b.T
    genuine = np.diag(similarity)
    impostor = similarity[ids[:, None] != ids[None, :]]
    return float(np.mean(genuine > np.quantile(impostor, 1 - FAR)))


def tar_with_interval(a: list[np.ndarray], b: list[np.ndarray], resamples: int = 1000) -> tuple[float, float, float]:
    """Mean TAR over the seeds (a[s], b[s]: identities × dim), and its 95% interval over resamplings of
    the identities (the same identities drawn for every seed)."""
    count = len(a[0])
    point = float(np.mean([tar(x, y) for x, y in zip(a, b)]))
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, count, count)
        draws.append(np.mean([tar(x[pick], y[pick], pick) for x, y in zip(a, b)]))
    return point, float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))


class Faces:
    """Every photo's faces, detected and aligned once (as fqselect does), scored by any network."""

    def __init__(self, photos: list[Path]):
        detector = load_detector("retinaface")
        self.faces = {}
        for path in photos:
            try:
                found = detect_and_align(read_image(path), detector)
            except Exception:
                continue
            if len(found):
                self.faces[path] = found

    def best(self, photos: list[Path], scores: dict[Path, np.ndarray]) -> np.ndarray | None:
        """The aligned crop of the best-scored face among these photos' faces."""
        candidates = [(float(scores[p][i]), p, i) for p in photos if p in scores for i in range(len(scores[p]))]
        if not candidates:
            return None
        _, path, i = max(candidates)
        return self.faces[path].crops[i]


def peer_scorers(shared: Path) -> dict[str, NetworkScorer]:
    paths = [p for p in sorted((shared / "peers").glob("lightqnet-*.onnx"))] or default_peers()
    return {peer_name(path): NetworkScorer(path, PEER_SPEC, name=peer_name(path)) for path in paths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sets.md")
    parser.add_argument("--limit", type=int, help="only the first N identities of each set (a quick check)")
    args = parser.parse_args()
    people = {ds: dict(sorted(m.items())[: args.limit]) for ds, m in identities(args.shared).items()}
    sface, dlib = load_recognizer(), load_recognizer(name="dlib")
    match = sface.points["match"]
    lines = ["| held-out set | identities | chooser | SFace TAR@FAR 1e-3 | dlib TAR@FAR 1e-3 |", "| --- | --- | --- | --- | --- |"]
    calibration_lines = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        peers = peer_scorers(args.shared)
        for dataset, members in people.items():
            names = sorted(members)
            faces = Faces([p for photos in members.values() for p in photos])
            peer_scores = {name: {p: scorer.score(f) for p, f in faces.faces.items()} for name, scorer in peers.items()}
            chosen: dict[str, list[tuple[list, list]]] = {}  # chooser -> per seed (A crops, B crops)
            templates: dict[str, list[tuple[list, list]]] = {"default, --embeddings template": [], "default, plain mean of 3": []}
            first_quality, first_match = [], []
            for seed in range(args.seeds):
                split = halves(members, seed)
                folders = {}
                for name in names:
                    for side, photos in zip("AB", split[name]):
                        folder = work / f"{dataset}-{seed}" / f"{name}_{side}"
                        folder.mkdir(parents=True)
                        for photo in photos:
                            (folder / photo.name).symlink_to(photo.resolve())
                        folders[name, side] = folder
                runs = {"fqselect default (set-aware)": [], "fqselect --scorer tinyfqnet (network alone)": ["--scorer", "tinyfqnet"]}
                for chooser, extra in runs.items():
                    out = work / f"out-{dataset}-{seed}-{len(chooser)}"
                    picks = run_command(list(folders.values()), out, extra)
                    crops = {}
                    for key, folder in folders.items():
                        records = sorted(picks.get(str(folder), []), key=lambda r: r["rank"])
                        crops[key] = [cv2.imread(r["crop_file"]) for r in records] if records else []
                        if chooser.startswith("fqselect default") and records:
                            crops[key, "template"] = np.load(Path(records[0]["crop_file"]).parent / "embedding.npy")
                            crops[key, "records"] = records
                    chosen.setdefault(chooser, []).append(
                        ([crops[n, "A"][0] if crops[n, "A"] else None for n in names], [crops[n, "B"][0] if crops[n, "B"] else None for n in names]))
                    if chooser.startswith("fqselect default"):
                        templates["default, --embeddings template"].append(
                            ([crops.get(((n, "A"), "template")) for n in names], [crops.get(((n, "B"), "template")) for n in names]))
                        plain = lambda c: None if not c else _unit(sface.embed(np.stack(c)).mean(axis=0))  # noqa: E731
                        templates["default, plain mean of 3"].append(([plain(crops[n, "A"]) for n in names], [plain(crops[n, "B"]) for n in names]))
                        for n in names:  # calibration: each first pick against the other half's first pick
                            for side, other in (("A", "B"), ("B", "A")):
                                mine, theirs = crops.get(((n, side), "records")), crops[n, other]
                                if mine and theirs:
                                    first_quality.append(mine[0]["quality"])
                                    e = sface.embed(np.stack([crops[n, side][0], theirs[0]]))
                                    first_match.append(float(e[0] @ e[1] > match))
                for name, scores in peer_scores.items():
                    chosen.setdefault(f"LightQNet {name}", []).append(
                        ([faces.best(split[n][0], scores) for n in names], [faces.best(split[n][1], scores) for n in names]))
            for chooser, per_seed in chosen.items():
                cells = []
                for recognizer in (sface, dlib):
                    a, b = zip(*[_embedded(recognizer, x, y) for x, y in per_seed])
                    point, low, high = tar_with_interval(list(a), list(b))
                    cells.append(f"{point:.4f} [{low:.4f}–{high:.4f}]")
                lines.append(f"| {dataset} | {len(names)} | {chooser} | {cells[0]} | {cells[1]} |")
                print(lines[-1], flush=True)
            for chooser, per_seed in templates.items():
                a, b = zip(*[_stacked(x, y) for x, y in per_seed])
                point, low, high = tar_with_interval(list(a), list(b))
                lines.append(f"| {dataset} | {len(names)} | {chooser} | {point:.4f} [{low:.4f}–{high:.4f}] | |")
                print(lines[-1], flush=True)
            q, m = np.array(first_quality), np.array(first_match)
            calibration_lines.append(f"| {dataset} | {len(q)} | {q.mean():.4f} | {m.mean():.4f} | {calibration_error(q, m):.4f} |")
    text = ["# Template top-1 TAR on held-out identities (`python benchmarks/bench_sets.py`)", "",
            f"{args.seeds} random halvings of each identity with {MIN_PHOTOS}+ photos; 95% intervals over identities.", "",
            *lines, "", "Calibration of the first picks' `quality` (does it match the other half's first pick at SFace's FMR 1e-3?):", "",
            "| held-out set | first picks | mean quality | matched | calibration error |", "| --- | --- | --- | --- | --- |",
            *calibration_lines, ""]
    args.out.write_text("\n".join(text))
    print("\n".join(calibration_lines))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def _embedded(recognizer, a: list, b: list) -> tuple[np.ndarray, np.ndarray]:
    """Both halves' chosen crops embedded; an identity whose half gave no face gets a random direction
    (it fails, as a template without a face fails)."""
    def embed(crops):
        rng = np.random.default_rng(1)
        return np.stack([recognizer.embed(c[None])[0] if c is not None else _unit(rng.normal(size=recognizer.embed(np.zeros((1, 112, 112, 3), np.uint8)).shape[1]))
                         for c in crops])
    return embed(a), embed(b)


def _stacked(a: list, b: list) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    fill = lambda v: v if v is not None else _unit(rng.normal(size=128))  # noqa: E731
    return np.stack([fill(v) for v in a]), np.stack([fill(v) for v in b])


if __name__ == "__main__":
    main()
