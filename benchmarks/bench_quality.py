"""Held-out quality evaluation of every scorer, on both held-out sets, in one run.

    python benchmarks/bench_quality.py [--shared ../shared] [--out benchmarks/results]

1. LFW people of peopleDevTest.txt (never seen in training).
2. The CelebA identities that training holds back (every 4th identity, `fqselect.train`).
Each with SFace (the labels' recogniser) and dlib's ResNet (an independent one: do the scores generalise?).
Writes <out>/<set>[-dlib]/ (results.md, results.json, edc.png, tar.png) and copies each network's numbers
into its model card.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fqselect.evaluate import default_peer, run_evaluation  # noqa: E402
from fqselect.models import weights_dir  # noqa: E402
from fqselect.score import available_networks  # noqa: E402
from fqselect.train import celeba_heldout_people  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path(os.environ.get("FQ_SHARED", ROOT.parent / "shared")))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--recognizers", default="sface,dlib", help="comma-separated: sface, dlib (needs the [eval] extra)")
    args = parser.parse_args()
    data = args.shared / "data"
    if not data.is_dir():
        sys.exit(f"{data}: shared data not found; nothing to evaluate")
    peer = default_peer()
    people = Path(tempfile.mkdtemp()) / "celeba-heldout.txt"
    people.write_text("\n".join(celeba_heldout_people(data / "celeba" / "images")) + "\n")
    sets = {"lfw-devtest": (data / "lfw" / "images", data / "lfw" / "peopleDevTest.txt"),
            "celeba-heldout": (data / "celeba" / "images", people)}
    results = {}
    for recognizer in args.recognizers.split(","):
        for name, (root, people_file) in sets.items():
            key = name if recognizer == "sface" else f"{name}-{recognizer}"
            results[key] = run_evaluation(root, people_file, args.out / key, peer=peer, splits=args.splits,
                                          recognizer=recognizer)
    record_in_model_cards(results)


def record_in_model_cards(results: dict) -> None:
    """Copy each network's held-out numbers into its model card (weights/<name>.json)."""
    for name in available_networks():
        card_path = weights_dir() / f"{name}.json"
        card = json.loads(card_path.read_text())
        card["heldout_metrics"] = {
            split: {
                "pauc_20": r["scorers"][name]["pauc_20"], "pauc_30": r["scorers"][name]["pauc_30"],
                "fnmr_at_0": r["scorers"][name]["fnmr_at_0"],
                "tar_top1_far1e-3": r["scorers"][name]["templates"]["top1"]["0.001"]["mean"],
                "random_pauc_20": r["scorers"]["random"]["pauc_20"],
                "peer_pauc_20": r["scorers"].get("lightqnet-peer", {}).get("pauc_20"),
                "faces": r["faces"], "recognizer": r["recognizer"], "fmr": r["fmr"],
                "ms_per_face_batch256_one_thread": r["costs"].get(name, {}).get("ms_batch256"),
            }
            for split, r in results.items() if name in r["scorers"]
        }
        card_path.write_text(json.dumps(card, indent=1) + "\n")


if __name__ == "__main__":
    main()
