"""Calibrating a quality network: its score becomes the probability that the face, compared with a good
image of the same person, matches at the recogniser's FMR 1e-3 threshold.

The map is logistic in the logit of the raw score, `sigmoid(a·logit(q) + b)`: monotone and strictly
increasing, so it never changes a ranking (an isotonic step function would tie the best faces, and the
frame selector lives on the order of the best faces). The scorer applies it (`score.calibrated`).
"""

from __future__ import annotations

import numpy as np

from ..quality.network import calibrated, logit

GOOD_SHARE = 0.5  # a face's references: the better half of its identity's other images


def match_targets(embeddings: np.ndarray, identity: np.ndarray, source: np.ndarray, reference: np.ndarray,
                  goodness: np.ndarray, threshold: float, softness: float | None = None) -> np.ndarray:
    """For every face: the share of its good references it matches above `threshold` (NaN without any);
    with `softness` s, each comparison counts sigmoid(s·(cos − threshold)) instead of 0 or 1 (LightQNet's
    soft pairwise label), so faces near the threshold are told apart.

    `reference` marks the faces that may serve as references (clean images); among an identity's
    references, the better half by `goodness` (e.g. cosine to the identity centre) are its good images.
    A face is never compared with a reference made from its own source image."""
    target = np.full(len(embeddings), np.nan, np.float64)
    for person in np.unique(identity):
        members = np.flatnonzero(identity == person)
        refs = members[reference[members]]
        if len(refs) < 2:
            continue
        good = refs[np.argsort(-goodness[refs])][: max(1, int(np.ceil(len(refs) * GOOD_SHARE)))]
        cosine = embeddings[members] @ embeddings[good].T
        matches = cosine > threshold if softness is None else 1.0 / (1.0 + np.exp(-softness * (cosine - threshold)))
        other = source[members][:, None] != source[good][None, :]
        counts = other.sum(axis=1)
        with np.errstate(invalid="ignore"):
            target[members] = np.where(counts > 0, (matches * other).sum(axis=1) / np.maximum(counts, 1), np.nan)
    return target


def fit_logistic(raw: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """a, b minimising the cross-entropy of sigmoid(a·logit(raw) + b) against soft targets in [0, 1]
    (convex in a and b; scipy's L-BFGS)."""
    from scipy.optimize import minimize
    from scipy.special import log_expit

    keep = np.isfinite(target)
    x, y = logit(raw[keep]).astype(np.float64), target[keep].astype(np.float64)

    def loss(params):
        z = params[0] * x + params[1]
        return -np.mean(y * log_expit(z) + (1 - y) * log_expit(-z))

    a, b = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B").x
    return float(a), float(b)


def calibration_error(probability: np.ndarray, target: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean |predicted − observed| over equal-count bins of prediction."""
    keep = np.isfinite(target)
    p, y = probability[keep], target[keep]
    order = np.argsort(p)
    return float(sum(len(part) * abs(p[part].mean() - y[part].mean()) for part in np.array_split(order, bins)) / len(p))


def apply(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    return calibrated(raw, {"a": a, "b": b})
