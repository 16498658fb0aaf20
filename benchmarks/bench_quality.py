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

from fqselect.research.evaluate import default_peers, run_evaluation  # noqa: E402
from fqselect.zoo.files import weights_dir  # noqa: E402
from fqselect.quality.network import available_networks  # noqa: E402
from fqselect.research.train import celeba_heldout_people  # noqa: E402


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
    peers = default_peers()
    people = Path(tempfile.mkdtemp()) / "celeba-heldout.txt"
    people.write_text("\n".join(celeba_heldout_people(data / "celeba" / "images")) + "\n")
    sets = {"lfw-devtest": (data / "lfw" / "images", data / "lfw" / "peopleDevTest.txt"),
            "celeba-heldout": (data / "celeba" / "images", people)}
    results = {}
    for recognizer in args.recognizers.split(","):
        for name, (root, people_file) in sets.items():
            key = name if recognizer == "sface" else f"{name}-{recognizer}"
            results[key] = run_evaluation(root, people_file, args.out / key, peers=peers, splits=args.splits,
                                          recognizer=recognizer)
    record_in_model_cards(results)
    (args.out / "summary.md").write_text(summary_table(results))
    print(summary_table(results))


def summary_table(results: dict) -> str:
    """One row per scorer: EDC pAUC@20% / @30% on every held-out set and recogniser, and cost."""
    sets = list(results)
    first = results[sets[0]]
    order = sorted(first["scorers"], key=lambda n: first["scorers"][n]["pauc_20"])
    header = "| scorer | " + " | ".join(f"{s} pAUC 20% / 30%" for s in sets) + " | params | MMACs | ms/face (b256, 1 thread) |"
    lines = [header, "| --- " * (len(sets) + 4) + "|"]
    for name in order:
        cells = [_cell(r["scorers"][name]) if name in r["scorers"] else "" for r in results.values()]
        cost = first["costs"].get(name)
        cost_cells = [f"{cost['params']:,}", f"{cost['mmacs']:.2f}", f"{cost['ms_batch256']:.3f}"] if cost else ["", "", ""]
        lines.append(f"| {name} | " + " | ".join(cells + cost_cells) + " |")
    lines.append("| *perfect* | " + " | ".join(f"{r['perfect']['pauc_20']:.4f} / {r['perfect']['pauc_30']:.4f}" for r in results.values()) + " | | | |")
    notes = [f"{s}: {r['faces']} faces, {r['identities']} identities, recogniser {r['recognizer']}, FNMR at FMR 1e-3 without discard "
             f"{r['scorers']['random']['fnmr_at_0']:.4f}" for s, r in results.items()]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def _cell(row: dict) -> str:
    """pAUC@20% and @30% with their 95% intervals (identities resampled)."""
    (l20, h20), (l30, h30) = row["pauc_20_ci95"], row["pauc_30_ci95"]
    return f"{row['pauc_20']:.4f} [{l20:.4f}–{h20:.4f}] / {row['pauc_30']:.4f} [{l30:.4f}–{h30:.4f}]"


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
                "pauc_20_ci95": r["scorers"][name]["pauc_20_ci95"], "pauc_30_ci95": r["scorers"][name]["pauc_30_ci95"],
                "calibration_error": r["scorers"][name].get("calibration_error"),
                **{f"{peer}_pauc_20": row["pauc_20"] for peer, row in r["scorers"].items() if peer.startswith("peer-")},
                **{f"{peer}_pauc_30": row["pauc_30"] for peer, row in r["scorers"].items() if peer.startswith("peer-")},
                "faces": r["faces"], "recognizer": r["recognizer"], "fmr": r["fmr"],
                "ms_per_face_batch256_one_thread": r["costs"].get(name, {}).get("ms_batch256"),
            }
            for split, r in results.items() if name in r["scorers"]
        }
        card_path.write_text(json.dumps(card, indent=1) + "\n")


if __name__ == "__main__":
    main()
