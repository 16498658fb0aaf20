"""Candidate networks side by side on the validation split — the numbers the default is chosen by.

    python benchmarks/bench_validation.py [NAME=PATH.onnx ...] [--average NAME,NAME ...] [--data ../shared/data]

Scores the validation split of `fqselect train` (held-back identities of the four training sets; never
the held-out sets) through the runtime scorer, as a user's run would: the baselines that read pixels
or face size, the shipped networks, the peers, and every NAME=PATH given. Per network: EDC pAUC at FMR
1e-3 at 20% / 30% discard on the natural faces (what training logs per epoch) and the Spearman
correlation of score and label over the degraded copies (the README's second tie-break), and the
failing-pair-weighted mean rank of the natural faces (0: every face of a failing pair ranked lowest)
and the share of failing pairs among the 20% of genuine pairs of lowest pair quality.
Then how concentrated the failing genuine pairs are: the identities that hold the most of them (a
handful decide every pAUC above). Loads the training sets (~8 GB): not beside a training run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_eyes import spearman  # noqa: E402
from fqselect.faces.batch import FaceBatch  # noqa: E402
from fqselect.research import DataRecipe, shared_dir  # noqa: E402
from fqselect.research.dataset import DEFAULT_CACHE  # noqa: E402
from fqselect.research.evaluate import build_scorers, default_peers  # noqa: E402
from fqselect.research.metrics import PairSet, edc, pauc, threshold_at_fmr  # noqa: E402
from fqselect.research.train import FMR, training_sets  # noqa: E402
from fqselect.quality.network import TEMPLATE_EYE_DISTANCE, NetworkScorer, available_networks, logit  # noqa: E402

PIXEL_BASELINES = ("random", "blur", "jpeg", "size")
# The degraded copies the Spearman column reads: two, as for every figure in the README's validation table
# (the default training recipe reads four).
VALIDATION_COPIES = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("networks", nargs="*", help="NAME=PATH.onnx of a network to compare")
    parser.add_argument("--average", nargs="*", default=[], metavar="NAME,NAME",
                        help="also score the mean in log-odds of these networks (a teacher an ensemble would make)")
    parser.add_argument("--data", type=Path, default=None, help="default: ../shared/data")
    args = parser.parse_args()
    # the validation faces are crops, with no detector score or detected landmarks: the pose, detector
    # and combined baselines would score them all alike
    scorers = build_scorers([*PIXEL_BASELINES, *available_networks()], default_peers())
    scorers.update({name: NetworkScorer.from_weights(path) for name, path in (arg.split("=", 1) for arg in args.networks)})
    _, validation, _ = training_sets(args.data or shared_dir() / "data", DataRecipe(degraded=VALIDATION_COPIES), DEFAULT_CACHE, 2, log=lambda *_: None)
    faces = FaceBatch.from_crops(validation.crops)
    # landmarks at the faces' source scale, for the networks that take it
    faces.landmarks = faces.landmarks * (validation.resolution / TEMPLATE_EYE_DISTANCE)[:, None, None]
    natural, degraded = np.flatnonzero(validation.clean), ~validation.clean
    pairs = PairSet.from_embeddings(validation.embeddings[natural], validation.identity[natural])
    fails = pairs.genuine <= threshold_at_fmr(pairs.impostor, FMR)
    failing = pairs.genuine_pairs[fails]
    failing_pairs_of = np.bincount(failing.ravel(), minlength=len(natural))  # per natural face
    print("| network | pAUC 20% / 30% (natural faces) | Spearman with the label (degraded copies) | "
          "failing-pair-weighted rank | failing pairs in the lowest 20% |\n| --- | --- | --- | --- | --- |")
    qualities = {name: scorer.score(faces) for name, scorer in scorers.items()}
    for names in args.average:
        qualities["mean of " + names.replace(",", ", ")] = average_in_log_odds([qualities[n] for n in names.split(",")])
    for name, quality in qualities.items():
        natural_quality = quality[natural]
        curve = edc(pairs, natural_quality, FMR)
        rank = natural_quality.argsort().argsort() / len(natural)
        pair_quality = natural_quality[pairs.genuine_pairs].min(axis=1)
        caught = (pair_quality[fails] <= np.quantile(pair_quality, 0.2)).mean()
        print(f"| {name} | {pauc(curve, 0.2):.4f} / {pauc(curve, 0.3):.4f} | "
              f"{spearman(quality[degraded], validation.label[degraded]):.3f} | "
              f"{(rank * failing_pairs_of).sum() / failing_pairs_of.sum():.3f} | {caught:.0%} |", flush=True)
    print_concentration(validation.identity[natural], failing)


def average_in_log_odds(qualities: list[np.ndarray]) -> np.ndarray:
    """The networks' mean logit, as a probability (qualities near 0 and 1 keep their order)."""
    return 1 / (1 + np.exp(-np.mean([logit(q) for q in qualities], axis=0)))


def print_concentration(identities: np.ndarray, failing: np.ndarray, shown: int = 5) -> None:
    """The identities holding the most failing genuine pairs (FMR 1e-3), and their share of all of them."""
    names, per_face = np.unique(identities, return_inverse=True)
    held = np.bincount(per_face[failing[:, 0]], minlength=len(names))
    order = np.argsort(-held)[:shown]
    print(f"\n{len(failing)} failing genuine pairs over {len(names)} identities; the {shown} holding most of them: "
          + ", ".join(f"{held[i]} ({held[i] / len(failing):.0%}, {np.sum(per_face == i)} faces)" for i in order)
          + f"; together {held[order].sum() / len(failing):.0%}")


if __name__ == "__main__":
    main()
