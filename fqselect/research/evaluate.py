"""`fqselect eval`: do the quality scores help recognition, and how much better than the alternatives?

Every scorer (random, the perceptual ones, every network in weights/, the published LightQNet models
present in ../shared/peers, and the oracle) scores the same aligned faces; one table reports EDC pAUC with
bootstrap intervals, template-selection TAR, calibration error and the cost of each learned scorer. Faces
are aligned and embedded once and cached (`sources.load_face_set`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from ..decode import read_image
from ..errors import InputError
from ..faces.align import face_region
from ..faces.batch import FaceBatch
from ..faces.recognize import default_recognizer
from ..quality.network import InputSpec, NetworkScorer, available_networks
from ..quality.perceptual import PERCEPTUAL
from ..quality.scorers import Scorer, load_scorer
from . import shared_dir
from .dataset import DEFAULT_CACHE, FaceSet, read_people
from .metrics import (
    DISCARD_GRID,
    PAUC_LIMITS,
    PairSet,
    bootstrap_pauc,
    edc,
    pauc,
    perfect_edc,
    template_selection,
)
from .sources import load_face_set

FMR = 1e-3
PEER_SPEC = InputSpec(size=96, layout="NHWC", channels="BGR", mean=128.0, std=128.0)  # ../shared/peers README
PEER_SIZES = ("dm025", "dm050", "dm100")  # LightQNet's three published models, smallest first
BOOTSTRAP = 500  # identity resamples for the 95% intervals
BASELINES = ["random", "blur", "pose", "jpeg", "combined", "size", "detector"]


def default_peers() -> list[Path]:
    """The published LightQNet models in ../shared/peers that are present, smallest first."""
    return [p for p in (shared_dir() / "peers" / f"lightqnet-{size}.onnx" for size in PEER_SIZES) if p.is_file()]


def peer_name(path: Path) -> str:
    return f"peer-{path.stem}"


def oracle_quality(embeddings: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """tinyFQnet's label: cosine to the leave-one-out centre of the face's own identity."""
    quality = np.zeros(len(embeddings), np.float32)
    for name in np.unique(identities):
        members = np.flatnonzero(identities == name)
        total = embeddings[members].sum(axis=0)
        others = total[None] - embeddings[members]
        others /= np.linalg.norm(others, axis=1, keepdims=True) + 1e-12
        quality[members] = (embeddings[members] * others).sum(axis=1)
    return quality


def face_batch(faces: FaceSet, with_regions: bool) -> FaceBatch:
    """The faces as the pipeline's FaceBatch; source regions (for the JPEG scorer) re-read from disk."""
    regions = []
    if with_regions:
        for path, box in zip(faces.paths, faces.boxes):
            try:
                regions.append(face_region(read_image(str(path)), box))
            except InputError:
                regions.append(np.zeros((1, 1, 3), np.uint8))
    return FaceBatch(faces.boxes, faces.det_scores, faces.landmarks, faces.crops, regions)


@dataclass
class ScorerCost:
    params: int
    mmacs: float
    ms_batch1: float
    ms_batch256: float


def onnx_cost(path: Path, spec: InputSpec) -> tuple[int, float]:
    """Parameters (initialiser elements) and millions of multiply-adds of one forward pass."""
    model = onnx.load(str(path))
    params = int(sum(np.prod(numpy_helper.to_array(t).shape) for t in model.graph.initializer))
    shape = [1, 3, spec.size, spec.size] if spec.layout == "NCHW" else [1, spec.size, spec.size, 3]
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, shape):
        dim.ClearField("dim_param")
        dim.dim_value = value
    for extra in model.graph.input[1:]:  # a second input (the scale): batch of one, so no size stays unknown
        for dim in extra.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.ClearField("dim_param")
                dim.dim_value = 1
    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input)}
    weights = {t.name: numpy_helper.to_array(t).shape for t in model.graph.initializer}
    macs = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv" and node.input[1] in weights and node.output[0] in shapes:
            kernel = weights[node.input[1]]  # (out, in/groups, kh, kw)
            macs += int(np.prod(shapes[node.output[0]])) * int(np.prod(kernel[1:]))
        elif node.op_type in ("Gemm", "MatMul") and node.input[1] in weights:
            macs += int(np.prod(weights[node.input[1]]))
    return params, macs / 1e6


def measure_speed(scorer: NetworkScorer, crops: np.ndarray, repeats: int = 5) -> tuple[float, float]:
    """ms per face at batch 1 and batch 256, in a session limited to one thread."""
    single = NetworkScorer(scorer.path, scorer.spec, scorer.name, threads=1)
    batch = FaceBatch.from_crops(np.resize(crops, (256, *crops.shape[1:])))
    one = FaceBatch.from_crops(crops[:1])
    single.score(batch)
    timings = {}
    for name, faces in (("1", one), ("256", batch)):
        runs = []
        for _ in range(repeats if name == "256" else repeats * 20):
            start = time.perf_counter()
            single.score(faces)
            runs.append(time.perf_counter() - start)
        timings[name] = 1000 * float(np.median(runs)) / len(faces)
    return timings["1"], timings["256"]


def build_scorers(names: list[str] | None, peers: list[Path]) -> dict[str, Scorer]:
    names = names or [*BASELINES, *available_networks()]
    scorers: dict[str, Scorer] = {name: load_scorer(name) for name in names}
    for path in peers:
        scorers[peer_name(path)] = NetworkScorer(path, PEER_SPEC, peer_name(path))
    return scorers


def run_evaluation(dataset: str | Path, people_file: str | Path | None = None, out_dir: Path = Path("eval"),
                   scorer_names: list[str] | None = None, peers: list[Path] = (), model_pack: str | None = None,
                   splits: int = 10, cache: Path = DEFAULT_CACHE, workers: int = 2,
                   log: Callable[[str], None] = print, progress: Callable[[int, int], None] | None = None,
                   recognizer: str | None = None) -> dict:
    """Score and measure every scorer; `recognizer` (sface, dlib, arcface) decides the comparisons."""
    people = read_people(people_file)
    recognizer = recognizer or default_recognizer(model_pack)
    log(f"aligning and embedding {dataset} with {recognizer} (cached after the first run) ...")
    faces = load_face_set(dataset, people, model_pack, cache, workers, progress, recognizer)
    log(f"{len(faces)} faces of {len(np.unique(faces.identities))} identities; {faces.missed} images without a detected face left out")
    scorers = build_scorers(scorer_names, list(peers))
    needs_regions = any(isinstance(s, (PERCEPTUAL["jpeg"], PERCEPTUAL["combined"])) for s in scorers.values())
    batch = face_batch(faces, needs_regions)
    qualities = {name: scorer.score(batch) for name, scorer in scorers.items()}
    qualities["oracle"] = oracle_quality(faces.embeddings, faces.identities)
    pairs = PairSet.from_embeddings(faces.embeddings, faces.identities)
    rows = {}
    for name, quality in qualities.items():
        curve = edc(pairs, quality, FMR)
        intervals = bootstrap_pauc(pairs, faces.identities, quality, FMR, BOOTSTRAP)
        rows[name] = {
            "fnmr_at_0": float(curve[0]),
            **{f"pauc_{int(limit * 100)}": pauc(curve, limit) for limit in PAUC_LIMITS},
            **{f"pauc_{int(limit * 100)}_ci95": intervals[limit] for limit in PAUC_LIMITS},
            "edc": curve.tolist(),
            "templates": _jsonable(template_selection(faces.embeddings, faces.identities, quality, splits)),
        }
        calibration = getattr(scorers.get(name), "calibration", None)
        if calibration and faces.recognizer == "sface":
            rows[name]["calibration_error"] = heldout_calibration_error(faces, quality, qualities["oracle"],
                                                                        calibration["threshold"])
        log(f"  {name:>16}: pAUC@20% {rows[name]['pauc_20']:.4f}  pAUC@30% {rows[name]['pauc_30']:.4f}")
    best = perfect_edc(pairs, FMR)
    costs = {name: _cost(s, faces.crops) for name, s in scorers.items() if isinstance(s, NetworkScorer)}
    results = {
        "dataset": str(dataset), "people": str(people_file) if people_file else None,
        "recognizer": faces.recognizer, "faces": len(faces), "identities": int(len(np.unique(faces.identities))),
        "missed": faces.missed, "genuine_pairs": int(len(pairs.genuine)), "impostor_pairs": int(len(pairs.impostor)),
        "fmr": FMR, "discard_grid": DISCARD_GRID.tolist(), "perfect_edc": best.tolist(),
        "perfect": {f"pauc_{int(l * 100)}": pauc(best, l) for l in PAUC_LIMITS},
        "scorers": rows, "costs": {k: vars(v) for k, v in costs.items()}, "template_splits": splits,
    }
    write_report(results, out_dir)
    return results


def heldout_calibration_error(faces: FaceSet, quality: np.ndarray, oracle: np.ndarray, threshold: float) -> float:
    """ECE of a calibrated network's quality against what happens: each face compared with the better
    half of its identity's other images (by the `oracle` quality) at the card's FMR 1e-3 threshold."""
    from .calibration import calibration_error, match_targets

    target = match_targets(faces.embeddings, faces.identities, np.arange(len(faces)), np.ones(len(faces), bool),
                           oracle, threshold)
    return calibration_error(quality, target)


def _cost(scorer: NetworkScorer, crops: np.ndarray) -> ScorerCost:
    params, mmacs = onnx_cost(scorer.path, scorer.spec)
    ms1, ms256 = measure_speed(scorer, crops[:256])
    return ScorerCost(params, round(mmacs, 2), round(ms1, 3), round(ms256, 4))


def _jsonable(templates: dict) -> dict:
    return {mode: {f"{far:g}": {"mean": m, "std": s} for far, (m, s) in fars.items()} for mode, fars in templates.items()}


def markdown_table(results: dict) -> str:
    lines = [
        f"Dataset `{results['dataset']}`" + (f", people `{Path(results['people']).name}`" if results["people"] else "")
        + f": {results['faces']} faces, {results['identities']} identities, {results['genuine_pairs']} genuine / "
        f"{results['impostor_pairs']} impostor pairs; recogniser {results['recognizer']}; threshold at FMR {results['fmr']:g}.",
        "",
        "| scorer | FNMR (no discard) | EDC pAUC 20% [95% CI] | EDC pAUC 30% [95% CI] | TAR@FAR1e-2 top-1 | TAR@FAR1e-3 top-1 | TAR@FAR1e-3 top-3 | TAR@FAR1e-3 weighted | calibration error | params | MMACs | ms/face b1 | ms/face b256 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = sorted(results["scorers"], key=lambda n: results["scorers"][n]["pauc_20"])
    for name in order:
        row = results["scorers"][name]
        t = row["templates"]
        cost = results["costs"].get(name)
        cost_cells = [f"{cost['params']:,}", f"{cost['mmacs']:.2f}", f"{cost['ms_batch1']:.3f}", f"{cost['ms_batch256']:.4f}"] if cost else ["", "", "", ""]
        lines.append("| " + " | ".join([
            name, f"{row['fnmr_at_0']:.4f}", _with_ci(row, "pauc_20"), _with_ci(row, "pauc_30"),
            _tar(t["top1"]["0.01"]), _tar(t["top1"]["0.001"]), _tar(t["top3"]["0.001"]), _tar(t["weighted"]["0.001"]),
            f"{row['calibration_error']:.3f}" if "calibration_error" in row else "", *cost_cells]) + " |")
    perfect = results["perfect"]
    lines.append(f"| *perfect (reference)* | | {perfect['pauc_20']:.4f} | {perfect['pauc_30']:.4f} | | | | | | | | | |")
    lines.append("")
    lines.append(f"TAR: mean ± std over {results['template_splits']} random two-template splits of identities with 4+ images. "
                 "pAUC: area under the error-versus-discard curve divided by the discard range (lower is better); "
                 f"in brackets its 95% interval over {BOOTSTRAP} resamples of the identities. Calibration error: mean |quality − "
                 "observed match rate| over 10 equal-count bins, each face against the better half of its identity's other "
                 "images at the network's FMR 1e-3 threshold. "
                 "Costs: one onnxruntime thread.")
    return "\n".join(lines) + "\n"


def _with_ci(row: dict, key: str) -> str:
    low, high = row[f"{key}_ci95"]
    return f"{row[key]:.4f} [{low:.4f}, {high:.4f}]"


def _tar(cell: dict) -> str:
    return f"{cell['mean']:.3f} ± {cell['std']:.3f}"


def write_report(results: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / "results.md").write_text(markdown_table(results))
    try:
        _plots(results, out_dir)
    except ImportError:
        (out_dir / "PLOTS-SKIPPED.txt").write_text("matplotlib is not installed: pip install -e '.[eval]'\n")


def _plots(results: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.array(results["discard_grid"]) * 100
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab20").colors  # more scorers than the default ten-colour cycle
    for i, (name, row) in enumerate(sorted(results["scorers"].items(), key=lambda kv: kv[1]["pauc_20"])):
        ax.plot(grid, row["edc"], label=f"{name} ({row['pauc_20']:.4f})", color=colours[i % len(colours)],
                linewidth=2.2 if name not in BASELINES else 1.2)
    ax.plot(grid, results["perfect_edc"], "k--", label="perfect", linewidth=1)
    ax.set_xlabel("discarded comparisons, lowest quality first (%)")
    ax.set_ylabel(f"FNMR at FMR {results['fmr']:g}")
    ax.set_title("Error versus discard (pAUC@20% in brackets)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "edc.png", dpi=120)
    plt.close(fig)

    names = sorted(results["scorers"], key=lambda n: -results["scorers"][n]["templates"]["top1"]["0.001"]["mean"])
    means = [results["scorers"][n]["templates"]["top1"]["0.001"]["mean"] for n in names]
    stds = [results["scorers"][n]["templates"]["top1"]["0.001"]["std"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, means, yerr=stds, color="tab:blue")
    ax.set_ylabel("TAR at FAR 1e-3 (top-1 per template)")
    ax.set_ylim(min(means) - 0.05, 1.0)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(out_dir / "tar.png", dpi=120)
    plt.close(fig)
