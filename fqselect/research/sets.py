"""Fitting how network quality and agreement combine (`quality.agreement.SetCalibration`), on the
validation split of `fqselect train`, and measuring it on held-out identities.

A set is what the product ranks: a person's faces, of which at most SHORTLIST are embedded (the network's
best). Here each validation identity's natural photos are split into random halves, many times; in half
A each face's agreement is measured as the product measures it (among A's SHORTLIST best by the network),
and its target is the share of half B's good images (the better half by cosine to the identity's
centre) it matches at the recogniser's FMR 1e-3 threshold: "the face matches the person's other good
images". A logistic regression on the network's log-odds and the agreement gives the calibrated
log-odds; its calibration error is reported on the validation sets and, once, on held-out identities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..choose.ranking import SHORTLIST
from ..faces.batch import FaceBatch
from ..quality.agreement import MIN_SET, agreement, logit, sigmoid
from .calibration import calibration_error
from .dataset import FaceSet

SPLITS = 20  # random halvings of each identity
MIN_PHOTOS = 4  # an identity needs this many photos for two halves of two or more


@dataclass
class SetSamples:
    net: np.ndarray  # (N,) the network's calibrated quality
    agreement: np.ndarray  # (N,)
    target: np.ndarray  # (N,) share of the other half's good images matched
    identity: np.ndarray  # (N,) str

    def __len__(self) -> int:
        return len(self.net)

    @classmethod
    def concat(cls, parts: list["SetSamples"]) -> "SetSamples":
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("net", "agreement", "target", "identity")))


def network_quality(faces: FaceSet, scorer) -> np.ndarray:
    batch = FaceBatch(faces.boxes, faces.det_scores, faces.landmarks, faces.crops, list(faces.crops))
    return scorer.score(batch).astype(np.float64)


def set_samples(faces: FaceSet, net: np.ndarray, match: float, seed: int = 0, splits: int = SPLITS) -> SetSamples:
    """Agreement and target of every face of half A, over `splits` random halvings of each identity."""
    rng = np.random.default_rng(seed)
    parts = []
    for person in np.unique(faces.identities):
        members = np.flatnonzero(faces.identities == person)
        if len(members) < MIN_PHOTOS:
            continue
        emb = faces.embeddings[members].astype(np.float64)
        centre = emb.sum(axis=0)
        goodness = emb @ (centre / np.linalg.norm(centre))
        for _ in range(splits):
            order = rng.permutation(len(members))
            half_a, half_b = order[: len(members) // 2], order[len(members) // 2:]
            shortlist = half_a[np.argsort(-net[members][half_a])][:SHORTLIST]
            if len(shortlist) < MIN_SET:
                continue
            agreed = agreement(emb[shortlist], net[members][shortlist], match)
            good = half_b[np.argsort(-goodness[half_b])][: max(1, len(half_b) // 2)]
            target = (emb[shortlist] @ emb[good].T > match).mean(axis=1)
            parts.append(SetSamples(net[members][shortlist], agreed, target, np.full(len(shortlist), person)))
    return SetSamples.concat(parts)


def fit(samples: SetSamples) -> tuple[float, float, float]:
    """a, b, c minimising the cross-entropy of sigmoid(a·logit(net) + b·agreement + c) against the soft
    targets (convex; scipy's L-BFGS)."""
    from scipy.optimize import minimize
    from scipy.special import log_expit

    x, y = np.stack([logit(samples.net), samples.agreement, np.ones(len(samples))], axis=1), samples.target

    def loss(params):
        z = x @ params
        return -np.mean(y * log_expit(z) + (1 - y) * log_expit(-z))

    a, b, c = minimize(loss, np.array([1.0, 0.0, 0.0]), method="L-BFGS-B").x
    return float(a), float(b), float(c)


def errors(samples: SetSamples, params: tuple[float, float, float]) -> dict:
    """Calibration error of the set calibration and of the network alone, on these samples."""
    a, b, c = params
    combined = sigmoid(a * logit(samples.net) + b * samples.agreement + c)
    return {"faces": len(samples), "identities": int(len(np.unique(samples.identity))),
            "ece": round(calibration_error(combined, samples.target), 4),
            "ece_network_alone": round(calibration_error(samples.net, samples.target), 4),
            "mean_target": round(float(samples.target.mean()), 4)}


def write_card(card_path: Path, params: tuple[float, float, float], validation: dict, command: str) -> dict:
    card = json.loads(card_path.read_text())
    a, b, c = params
    card["set_calibration"] = {
        "a": round(a, 5), "b": round(b, 5), "c": round(c, 5),
        "meaning": "log-odds that the face matches the person's other good images at SFace's FMR 1e-3 threshold: "
                   "a·logit(network quality) + b·agreement + c, agreement being the cosine to the robust centre "
                   "of the set's other faces (quality/agreement.py)",
        "fitted_on": validation, "command": command,
    }
    card_path.write_text(json.dumps(card, indent=1) + "\n")  # as `fqselect train` writes cards
    return card["set_calibration"]


def validation_faces(data: Path, cache: Path, workers: int, log=print) -> dict[str, FaceSet]:
    """The natural faces of the validation identities of each training set (as `fqselect train` splits
    them; CelebA's held-out identities never read)."""
    from .dataset import read_people
    from .sources import source_faces, standard_sources
    from .train import VALIDATION_SPLITS, celeba_heldout_people, split_every

    sources = standard_sources(data, read_people(data / "lfw" / "peopleDevTrain.txt"))
    heldout = set(celeba_heldout_people(sources["celeba"].root))
    found = {}
    for name, source in sources.items():
        faces = source_faces(source, 0, 0, cache, workers)
        if name == "celeba":
            faces = faces.subset(~np.isin(faces.identities, list(heldout)))
        found[name] = faces.subset(split_every(faces.identities, VALIDATION_SPLITS[name]))
        log(f"{name}: {len(found[name])} validation faces, {len(np.unique(found[name].identities))} identities")
    return found


def held_out_faces(data: Path, cache: Path, workers: int) -> dict[str, FaceSet]:
    """CelebA's held-out identities and LFW's DevTest people: read once, at the end."""
    from .dataset import read_people
    from .sources import load_face_set, source_faces, standard_sources
    from .train import celeba_heldout_people

    celeba = standard_sources(data, None)["celeba"]
    heldout = celeba_heldout_people(celeba.root)
    faces = source_faces(celeba, 0, 0, cache, workers)
    lfw = data / "lfw"
    return {"celeba-heldout": faces.subset(np.isin(faces.identities, heldout)),
            "lfw-devtest": load_face_set(lfw / "images", read_people(lfw / "peopleDevTest.txt"), cache=cache, workers=workers)}


def calibrate_sets(data: Path, cache: Path, workers: int, card_path: Path, scorer, match: float, command: str,
                   log=print) -> dict:
    """Fit the set calibration on the validation sets and write it into the network's card."""
    parts = [set_samples(faces, network_quality(faces, scorer), match, seed=number)
             for number, faces in enumerate(validation_faces(data, cache, workers, log).values())]
    samples = SetSamples.concat(parts)
    params = fit(samples)
    validation = errors(samples, params)
    log(f"set calibration a={params[0]:.4f} b={params[1]:.4f} c={params[2]:.4f}; validation {validation}")
    return write_card(card_path, params, validation, command)
