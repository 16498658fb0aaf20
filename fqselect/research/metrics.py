"""Quality-assessment metrics: error-versus-discard curves (ISO/IEC 29794-1 style) and template
selection TAR. Pure numpy on similarity matrices, so they can be tested on cases with known answers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISCARD_GRID = np.linspace(0.0, 0.30, 31)  # 0..30% in 1% steps
PAUC_LIMITS = (0.20, 0.30)


@dataclass
class PairSet:
    """All comparisons of a face set: genuine and impostor similarities, with each pair's two faces."""

    genuine: np.ndarray  # (G,) similarity
    genuine_pairs: np.ndarray  # (G, 2) face indices
    impostor: np.ndarray  # (I,) similarity

    @classmethod
    def from_embeddings(cls, embeddings: np.ndarray, identities: np.ndarray, max_impostors: int = 5_000_000,
                        seed: int = 0) -> "PairSet":
        sims = embeddings @ embeddings.T
        upper_i, upper_j = np.triu_indices(len(embeddings), k=1)
        same = identities[upper_i] == identities[upper_j]
        impostor = sims[upper_i[~same], upper_j[~same]]
        if len(impostor) > max_impostors:  # keeps memory bounded on large sets; a uniform sample
            impostor = np.random.default_rng(seed).choice(impostor, max_impostors, replace=False)
        pairs = np.stack([upper_i[same], upper_j[same]], axis=1)
        return cls(sims[pairs[:, 0], pairs[:, 1]], pairs, impostor)


def threshold_at_fmr(impostor: np.ndarray, fmr: float) -> float:
    """The similarity threshold at which `fmr` of impostor comparisons still match (score > threshold)."""
    return float(np.quantile(impostor, 1.0 - fmr, method="higher"))


def edc(pairs: PairSet, qualities: np.ndarray, fmr: float = 1e-3, grid: np.ndarray = DISCARD_GRID) -> np.ndarray:
    """FNMR of the genuine comparisons left after discarding the lowest-quality fraction of them.

    The threshold is fixed once, on all impostor comparisons; a pair's quality is the lower of its two
    faces' qualities. Ties in quality are broken at random (seeded) so that a constant scorer is flat.
    """
    order, failed = _worst_first(pairs, qualities, fmr)
    total = len(failed)
    curve = []
    for fraction in grid:
        kept = failed[int(round(fraction * total)) :]
        curve.append(kept.mean() if len(kept) else 0.0)
    return np.array(curve)


def _worst_first(pairs: PairSet, qualities: np.ndarray, fmr: float) -> tuple[np.ndarray, np.ndarray]:
    """The genuine pairs in discard order (pair quality = the lower of its two faces', worst first, ties
    broken at random, seeded) and whether each failed at the threshold fixed on all impostors."""
    threshold = threshold_at_fmr(pairs.impostor, fmr)
    pair_quality = np.minimum(qualities[pairs.genuine_pairs[:, 0]], qualities[pairs.genuine_pairs[:, 1]])
    tie_break = np.random.default_rng(0).random(len(pair_quality))
    order = np.lexsort((tie_break, pair_quality))
    return order, (pairs.genuine[order] <= threshold).astype(np.float64)


def bootstrap_pauc(pairs: PairSet, identities: np.ndarray, qualities: np.ndarray, fmr: float = 1e-3,
                   resamples: int = 500, limits=PAUC_LIMITS, grid: np.ndarray = DISCARD_GRID, seed: int = 0) -> dict:
    """95% intervals of pAUC when the identities are resampled with replacement: each resample weighs every
    genuine pair by how often its identity was drawn (the threshold stays the one of all impostors).
    Returns {limit: [low, high]}."""
    order, failed = _worst_first(pairs, qualities, fmr)
    names, pair_identity = np.unique(identities[pairs.genuine_pairs[order, 0]], return_inverse=True)
    rng = np.random.default_rng(seed)
    values = {limit: [] for limit in limits}
    for _ in range(resamples):
        weights = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))[pair_identity].astype(np.float64)
        before = np.cumsum(weights) - weights  # weight of the worse pairs in front of each pair
        total = weights.sum()
        curve = []
        for fraction in grid:
            kept = weights * (before >= fraction * total - 1e-9)
            curve.append((kept * failed).sum() / kept.sum() if kept.sum() else 0.0)
        for limit in limits:
            values[limit].append(pauc(np.array(curve), limit, grid))
    return {limit: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] for limit, v in values.items()}


def perfect_edc(pairs: PairSet, fmr: float = 1e-3, grid: np.ndarray = DISCARD_GRID) -> np.ndarray:
    """The best any scorer can do: failed comparisons discarded first."""
    threshold = threshold_at_fmr(pairs.impostor, fmr)
    fnmr = (pairs.genuine <= threshold).mean()
    return np.maximum(0.0, (fnmr - grid) / np.maximum(1.0 - grid, 1e-9))


def pauc(curve: np.ndarray, limit: float, grid: np.ndarray = DISCARD_GRID) -> float:
    """Area under the EDC from 0 to `limit` discard (trapezoids), normalised by the limit so that a
    flat curve's pAUC equals its FNMR."""
    keep = grid <= limit + 1e-12
    x, y = grid[keep], curve[keep]
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / limit)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float:
    return float((genuine > threshold_at_fmr(impostor, far)).mean())


def template_selection(embeddings: np.ndarray, identities: np.ndarray, qualities: np.ndarray,
                       splits: int = 10, fars=(1e-2, 1e-3), min_images: int = 4, seed: int = 0) -> dict:
    """tinyFQnet protocol: each identity's images split in two templates; each template represented by
    its top-1 face, the mean of its top-3, or the quality-weighted mean of all; templates compared across
    identities. Returns {mode: {far: (mean TAR, std TAR)}} over `splits` random splits."""
    rng = np.random.default_rng(seed)
    names, counts = np.unique(identities, return_counts=True)
    eligible = names[counts >= min_images]
    members = {name: np.flatnonzero(identities == name) for name in eligible}
    results: dict[str, dict[float, list[float]]] = {m: {f: [] for f in fars} for m in ("top1", "top3", "weighted")}
    for _ in range(splits):
        halves = []
        for name in eligible:
            shuffled = rng.permutation(members[name])
            halves.append((shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2 :]))
        for mode in results:
            a = np.stack([_template(embeddings, qualities, h[0], mode) for h in halves])
            b = np.stack([_template(embeddings, qualities, h[1], mode) for h in halves])
            sims = a @ b.T
            genuine = np.diag(sims)
            impostor = sims[~np.eye(len(sims), dtype=bool)]
            for far in fars:
                results[mode][far].append(tar_at_far(genuine, impostor, far))
    return {m: {f: (float(np.mean(v)), float(np.std(v))) for f, v in r.items()} for m, r in results.items()}


def _template(embeddings: np.ndarray, qualities: np.ndarray, members: np.ndarray, mode: str) -> np.ndarray:
    order = members[np.argsort(-qualities[members], kind="stable")]
    if mode == "top1":
        chosen, weights = order[:1], np.ones(1)
    elif mode == "top3":
        chosen, weights = order[:3], np.ones(min(3, len(order)))
    else:
        chosen, weights = order, np.clip(qualities[order], 1e-6, None)
    mean = (embeddings[chosen] * weights[:, None]).sum(axis=0)
    return mean / (np.linalg.norm(mean) + 1e-12)
