"""Set-aware quality: how well the recogniser agrees with each face of one person's set of faces.

A folder that is one template, a person's track in a video: most jobs hand fqselect several faces of one
person. For such a set the recogniser itself can say which faces it agrees with: the person's centre is
estimated robustly (each face weighted by its network quality (`prior_weights`) and by how well it matches the centre,
iterated, so that a stray face of someone else or a burst of grimaces cannot pull it), and each face's
`agreement` is its cosine to the centre of the *other* faces. That is the label the quality network
learns from (tinyFQnet's cosine to the identity centre), measured on the real set instead of predicted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SET = 3  # fewer faces make no centre of the others worth the name: the network alone ranks them
ITERATIONS = 6
# A face's weight in the centre grows with the odds of its network quality up to this quality (or up to
# the set's best, where that is lower), and is the same for every face above it: the person's centre is
# that of their good faces (a set of damaged faces otherwise agrees best with its blurriest, nearest the
# average of all), while among good faces the network's order, close to arbitrary there, decides nothing.
FULL_WEIGHT_QUALITY = 0.95
GATE_SHARPNESS = 16.0  # how sharply a face that does not match the centre loses its weight (LightQNet's s)


def robust_weights(embeddings: np.ndarray, prior: np.ndarray, match: float) -> np.ndarray:
    """Each face's weight in the person's centre: its `prior` (network quality) times how surely it
    matches the current centre at the recogniser's `match` threshold (a logistic gate), iterated from the
    prior-weighted mean. Faces of someone else end near zero; the person's own faces keep their prior."""
    weights = np.asarray(prior, np.float64).copy()
    for _ in range(ITERATIONS):
        centre = weights @ embeddings
        centre /= np.linalg.norm(centre) + 1e-12
        gate = 1.0 / (1.0 + np.exp(-GATE_SHARPNESS * (embeddings @ centre - match)))
        weights = prior * gate
    return weights


def prior_weights(net_quality: np.ndarray) -> np.ndarray:
    """Each face's weight in the centre before agreement is known: full from FULL_WEIGHT_QUALITY up, or
    from the set's best quality where that is lower (a set of damaged faces is centred on its least
    damaged ones), and less by the odds below that."""
    q = np.clip(np.asarray(net_quality, np.float64), 1e-6, 1 - 1e-6)
    reference = min(FULL_WEIGHT_QUALITY, float(q.max()))
    return np.clip((q / (1 - q)) / (reference / (1 - reference)), 1e-3, 1.0)


def agreement(embeddings: np.ndarray, net_quality: np.ndarray, match: float) -> np.ndarray | None:
    """(N,) cosine of each unit embedding to the robust centre of the set's other faces, or None for a set
    of fewer than MIN_SET faces."""
    if len(embeddings) < MIN_SET:
        return None
    embeddings = np.asarray(embeddings, np.float64)
    weights = centre_weights(embeddings, net_quality, match)
    others = (weights @ embeddings)[None, :] - weights[:, None] * embeddings  # each face's centre without itself
    others /= np.linalg.norm(others, axis=1, keepdims=True) + 1e-12
    return np.einsum("ij,ij->i", embeddings, others)


def centre_weights(embeddings: np.ndarray, net_quality: np.ndarray, match: float) -> np.ndarray:
    """Each face's weight in the person's centre (`robust_weights` from `prior_weights`)."""
    return robust_weights(np.asarray(embeddings, np.float64), prior_weights(net_quality), match)


def agreement_in_place_of(embedding: np.ndarray, i: int | None, embeddings: np.ndarray, weights: np.ndarray) -> float:
    """The cosine of a unit embedding to the centre of a set's faces other than face i (`weights`: each
    face's weight in the centre): face i's own agreement, or that of another face standing in for it;
    with i None, of a face beside the set (the centre of all of its faces)."""
    centre = weights @ embeddings - (0.0 if i is None else weights[i] * embeddings[i])
    return float(np.dot(embedding, centre) / (np.linalg.norm(centre) + 1e-12))


def logit(q) -> np.ndarray:
    q = np.clip(np.asarray(q, np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def sigmoid(z) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))


@dataclass(frozen=True)
class SetCalibration:
    """How network quality and agreement combine into one calibrated log-odds that the face matches the
    person's other good images at the recogniser's FMR 1e-3 point: `a·logit(net) + b·agreement + c`,
    fitted on the validation split (research/agreement.py) and kept in the network's model card."""

    a: float
    b: float
    c: float

    @classmethod
    def from_card(cls, card: dict | None) -> "SetCalibration | None":
        fitted = (card or {}).get("set_calibration")
        return cls(fitted["a"], fitted["b"], fitted["c"]) if fitted else None

    def log_odds(self, net_quality: np.ndarray, agreement: np.ndarray) -> np.ndarray:
        return self.a * logit(net_quality) + self.evidence(agreement)

    def evidence(self, agreement: np.ndarray) -> np.ndarray:
        """What the agreement adds to the log-odds."""
        return self.b * np.asarray(agreement, np.float64) + self.c
