"""`fqselect train`: learn a tiny face-quality network from recognition-oriented labels.

    fqselect train --loss l2 --name tinyfqnet

Data (`training_sets`): LFW people of peopleDevTrain.txt (peopleDevTest.txt is never read here), CelebA,
Glint and CelebA-aligned. Held back: validation identities of every set (model selection and calibration)
and every 4th CelebA identity (a held-out evaluation set, never read here).
Every image also gives copies degraded at the source before detection, a copy with painted closed eyes
and a copy of its aligned crop as heavy JPEG (`sources.py`), each re-embedded: a degraded face's label
comes from its own embedding.

Labels (all from the default SFace recogniser):
- `l2`  — tinyFQnet: q = cos(f_x, u_y), u_y the leave-one-out centre of the identity's clean faces;
  L2 regression, with smooth re-sampling of the label histogram (tinyFQnet Sec. III-D).
- `rank` — the same plus RankNet's pairwise ranking loss over each batch.
- `idq` — LightQNet: for same-identity pairs in a P×K batch, t_ij = sigmoid(s·(cos_ij − m)) and the
  identification-quality loss BCE(min(q_i, q_j), t_ij) ("loser takes all").
- `distill` — branch-based distillation: a teacher head on the recogniser's embedding is trained with IDQ,
  and the quality network learns IDQ plus λ·KL(teacher ‖ student).
What the losses start from (`--labels`): the centre cosine above, `rho` (a rank-one fit of each
identity's pairwise cosines), or SFace's own feature length (`norm`, `centre+norm`: `norm_labels`).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from ..errors import UsageError
from ..quality.network import (
    SCALE_INPUT,
    SCALE_RANGE,
    TEMPLATE_EYE_DISTANCE,
    scale_feature,
)
from ..zoo.files import weights_dir
from . import TRAIN_NORM_SHARE, DataRecipe, Recipe, shared_dir
from .dataset import DEFAULT_CACHE, FaceSet, read_people
from .metrics import PairSet, edc, pauc, threshold_at_fmr

VALIDATION_EVERY = 10  # every 10th LFW-train identity (sorted) validates; never trained on
CELEBA_HELDOUT_EVERY = 4  # every 4th CelebA identity (sorted) is a second held-out evaluation set
LABEL_BINS = 100
FMR = 1e-3
LOSSES = ("l2", "soft", "match", "mix", "cr", "rank", "idq", "distill")
SOFTNESS_FULL = 4.0  # log2 loss of detail at which --blur-penalty is taken off in full (train.softness)
NORM_LABELS = ("norm", "norm+mirror", "centre+norm", "centre+norm-natural")  # from SFace's feature length: norm_labels
LABELS = ("centre", "rho", *NORM_LABELS)  # what the losses start from: build_samples, norm_labels
REGRESSION_LOSSES = ("l2", "soft", "match", "mix", "cr", "rank")


def split_every(identities: np.ndarray, every: int) -> np.ndarray:
    """Boolean mask of faces whose identity is every `every`-th of the sorted identity names."""
    names = np.unique(identities)
    chosen = set(names[::every])
    return np.array([name in chosen for name in identities])


def celeba_heldout_people(celeba_root: str | Path) -> list[str]:
    names = sorted(p.name for p in Path(celeba_root).iterdir() if p.is_dir())
    return names[::CELEBA_HELDOUT_EVERY]


# ----------------------------------------------------------------------------------------- samples
@dataclass
class Samples:
    """Training samples: clean faces and their degraded copies, with identity ids and labels."""

    crops: np.ndarray  # (N, 112, 112, 3) uint8
    embeddings: np.ndarray  # (N, D)
    identity: np.ndarray  # (N,) int
    source: np.ndarray  # (N,) index of the clean face each sample comes from
    label: np.ndarray  # (N,) tinyFQnet label cos(f_x, u_y)
    clean: np.ndarray | None = None  # (N,) bool, an undegraded image (calibration's references)
    resolution: np.ndarray | None = None  # (N,) effective eye distance in source pixels (FaceSet.resolution)
    norm: np.ndarray | None = None  # (N,) SFace's feature length (FaceSet.norms)
    penalty: np.ndarray | None = None  # (N,) what `label` has had taken off beyond SFace's own drop

    def __len__(self) -> int:
        return len(self.identity)


def build_samples(clean: FaceSet, degraded: list[FaceSet], penalties: list[float] | None = None,
                  centre_share: float = 1.0, labels: str = "centre") -> Samples:
    """The clean faces and every degraded copy whose source image also gave a clean face; identities
    with fewer than two clean faces are left out (their faces have no leave-one-out centre). A copy's
    `penalties` entry is taken off its labels (see `training_sets`' closed_eye_penalty); `labels` is
    "centre" (`centre_labels`, from each identity's best `centre_share` of clean images) or "rho"
    (`rho_labels`)."""
    names, counts = np.unique(clean.identities, return_counts=True)
    clean = clean.subset(np.isin(clean.identities, names[counts >= 2]))
    _, identity = np.unique(clean.identities, return_inverse=True)
    index_of = {_image_key(path): i for i, path in enumerate(clean.paths)}
    crops, embeddings, source = [clean.crops], [clean.embeddings], [np.arange(len(clean))]
    resolution = [_resolution(clean)]
    norms = [clean.norms]
    penalty = [np.zeros(len(clean), np.float32)]
    for copy, taken_off in zip(degraded, penalties or [0.0] * len(degraded)):
        matched = np.array([_image_key(path) in index_of for path in copy.paths], bool)
        crops.append(copy.crops[matched])
        embeddings.append(copy.embeddings[matched])
        source.append(np.array([index_of[_image_key(path)] for path in copy.paths[matched]], np.int64))
        resolution.append(_resolution(copy)[matched])
        norms.append(None if copy.norms is None else copy.norms[matched])
        penalty.append(np.full(int(matched.sum()), taken_off, np.float32))
    embeddings = np.concatenate(embeddings).astype(np.float32)
    source = np.concatenate(source)
    if labels == "rho":
        label = rho_labels(clean.embeddings, identity, embeddings, source)
    else:
        label = centre_labels(clean.embeddings, identity, embeddings, source, centre_share)
    penalty = np.concatenate(penalty)
    return Samples(np.concatenate(crops), embeddings, identity[source], source, label - penalty,
                   clean=np.arange(len(source)) < len(clean), resolution=np.concatenate(resolution),
                   norm=None if any(n is None for n in norms) else np.concatenate(norms), penalty=penalty)


def _image_key(path) -> tuple[str, str]:
    """An image as `<identity>/<file>`: caches made with the data folder spelt differently (relative or
    absolute) store different paths for one image, and a copy must still find its clean face."""
    return tuple(str(path).replace("\\", "/").rsplit("/", 2)[-2:])


def _resolution(faces: FaceSet) -> np.ndarray:
    """The faces' effective eye distances: as set by `training_sets`, else those of undegraded faces."""
    from .sources import face_resolution

    return faces.resolution if faces.resolution is not None else face_resolution(faces)


def centre_labels(clean: np.ndarray, clean_identity: np.ndarray, embeddings: np.ndarray, source: np.ndarray,
                  share: float = 1.0) -> np.ndarray:
    """cos(f_x, u_y): u_y is the normalised mean of the identity's clean faces except x's own source.
    With `share` < 1, only the identity's best `share` of clean faces (by that same cosine, at least one
    besides x's source) make u_y: a few blurred or mislabelled images then do not pull the centre."""
    everyone = np.ones(len(clean), bool)
    if share >= 1.0:
        return _centre_cosines(clean, clean_identity, everyone, embeddings, source)
    goodness = _centre_cosines(clean, clean_identity, everyone, clean, np.arange(len(clean)))
    order = np.lexsort((-goodness, clean_identity))  # by identity, best first within each
    counts = np.bincount(clean_identity)
    first = np.cumsum(counts) - counts  # where each identity's run starts in `order`
    rank = np.empty(len(clean), np.int64)
    rank[order] = np.arange(len(clean)) - first[clean_identity[order]]
    best = rank < np.maximum(2, np.ceil(share * counts))[clean_identity]
    return _centre_cosines(clean, clean_identity, best, embeddings, source)


def rho_labels(clean: np.ndarray, clean_identity: np.ndarray, embeddings: np.ndarray, source: np.ndarray,
               iterations: int = 50) -> np.ndarray:
    """ρ_x, each face's cosine to its identity's true (unknown) centre, from a rank-one fit of the
    identity's pairwise cosines, cos(f_i, f_j) ≈ ρ_i ρ_j for i ≠ j. The leave-one-out centre cosine is
    ρ_x times how close the other images' mean lies to the true centre: for an identity of two images
    that is the other image's ρ, so both get one label, and small identities (most of CelebA-aligned's
    and LFW's) get lower labels than large ones for faces of the same quality. ρ removes that factor.
    Fitted by alternating least squares on the clean faces, ρ_i = f_i·(W − ρ_i f_i) / (R − ρ_i²) with
    W = Σ ρ_j f_j and R = Σ ρ_j² over the identity; any face x of source s then gets
    ρ_x = f_x·(W − ρ_s f_s) / (R − ρ_s²). (For two images only the product is known: both get √cos.)"""
    everyone = np.ones(len(clean), bool)
    rho = np.sqrt(np.clip(_centre_cosines(clean, clean_identity, everyone, clean, np.arange(len(clean))), 0.01, 1))
    for _ in range(iterations):
        weighted, squares = _rho_sums(clean, clean_identity, rho)
        fitted = ((clean * weighted[clean_identity]).sum(axis=1) - rho) / (squares[clean_identity] - rho ** 2)
        rho = 0.5 * (rho + np.clip(fitted, 0.01, 1.0))  # damped: the plain update can oscillate
    weighted, squares = _rho_sums(clean, clean_identity, rho)
    others = weighted[clean_identity[source]] - rho[source][:, None] * clean[source]
    return ((embeddings * others).sum(axis=1) / (squares[clean_identity[source]] - rho[source] ** 2)).astype(np.float32)


def _rho_sums(clean: np.ndarray, clean_identity: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per identity, W = Σ ρ_j f_j and R = Σ ρ_j² (the sums `rho_labels` leaves one face out of)."""
    weighted = identity_sums(clean * rho[:, None], clean_identity, np.ones(len(clean), bool))
    return weighted, np.bincount(clean_identity, weights=rho ** 2)


def identity_sums(embeddings: np.ndarray, identity: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(identities, D) sums of the `members` embeddings of each identity (float64)."""
    totals = np.zeros((identity.max() + 1, embeddings.shape[1]), np.float64)
    np.add.at(totals, identity[members], embeddings[members])
    return totals


def _centre_cosines(clean: np.ndarray, clean_identity: np.ndarray, members: np.ndarray, embeddings: np.ndarray,
                    source: np.ndarray) -> np.ndarray:
    """cos(f_x, mean of the identity's `members` clean faces other than x's source)."""
    totals = identity_sums(clean, clean_identity, members)
    centres = totals[clean_identity[source]] - clean[source] * members[source][:, None]
    centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12
    return (embeddings * centres).sum(axis=1).astype(np.float32)


def smooth_weights(labels: np.ndarray, bins: int = LABEL_BINS, power: float = 0.5) -> np.ndarray:
    """Sampling weights that flatten the label histogram: a sample in a bin of count c is drawn with
    weight c^(power-1), so the re-sampled histogram goes as c^power (tinyFQnet's smooth re-sampling:
    the rare low and high scores are over-sampled, the crowded middle down-sampled)."""
    index = np.clip((np.clip(labels, 0, 1) * bins).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    weights = counts[index] ** (power - 1.0)
    return weights / weights.sum()


def soft_label_scale(clean: np.ndarray, identity: np.ndarray) -> tuple[float, float]:
    """LightQNet's m and s for this recogniser: m is the similarity threshold at FMR 1e-3 on impostor
    pairs (the operating point the evaluation uses), s = 2/σ of genuine similarities, so ±1σ around m
    maps to labels 0.12–0.88 (for the paper's recogniser this gives values close to their s=16)."""
    rng = np.random.default_rng(0)
    take = rng.choice(len(clean), min(len(clean), 4000), replace=False)
    pairs = PairSet.from_embeddings(clean[take], identity[take])
    m = threshold_at_fmr(pairs.impostor, FMR)
    return float(m), float(2.0 / np.std(pairs.genuine))


# ----------------------------------------------------------------------------------------- networks
def network_inputs(crops: np.ndarray, size: int) -> np.ndarray:
    """uint8 NHWC crops resized to the network's size (the same resize the runtime scorer does)."""
    if size == crops.shape[1]:
        return crops
    interpolation = cv2.INTER_AREA if size < crops.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(c, (size, size), interpolation=interpolation) for c in crops])


INPUT_MEAN, INPUT_STD = 127.5, 128.0  # written into the model card; NetworkScorer reads them from there


def to_tensor(batch: np.ndarray, flip: np.ndarray | None = None):
    import torch

    if flip is not None:
        batch = np.where(flip[:, None, None, None], batch[:, :, ::-1], batch)
    x = (batch.astype(np.float32) - INPUT_MEAN) / INPUT_STD
    # NCHW in shape, NHWC (channels_last) in memory, as the crops come: PyTorch's CPU convolutions run
    # the tiny networks' depthwise layers twice as fast that way (train: the model is channels_last too)
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


def scale_tensor(resolution: np.ndarray | None, count: int):
    """The scale-aware networks' second input (score.scale_feature) from eye distances in source pixels;
    without them, faces as large as the crop (what the runtime assumes for already-aligned crops)."""
    import torch

    return torch.from_numpy(scale_feature(np.full(count, TEMPLATE_EYE_DISTANCE) if resolution is None else resolution))


def forward(model, x, scale):
    """The model's quality for crops `x`, handing it the scale column when it takes one."""
    return model(x, scale) if getattr(model, "takes_scale", False) else model(x)


def predict(model, inputs: np.ndarray, resolution: np.ndarray | None = None, batch: int = 512) -> np.ndarray:
    import torch

    scales = scale_tensor(resolution, len(inputs))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = [forward(model, to_tensor(inputs[i : i + batch]), scales[i : i + batch]).numpy().reshape(-1)
               for i in range(0, len(inputs), batch)]
    model.train(was_training)
    return np.concatenate(out)


class Validation:
    """EDC pAUC on held-back identities, for choosing the epoch and the network: on their natural images
    only, as the held-out sets are (with two synthetic copies of each, half of all genuine pairs fail
    and every scorer, the label itself included, lands within 0.001 of the others). The calibration is
    fitted on all of them (`samples`, `inputs`): users see degraded faces too."""

    def __init__(self, samples: Samples, size: int):
        self.samples = samples
        self.inputs = network_inputs(samples.crops, size)
        natural = samples.clean if samples.clean is not None else np.ones(len(samples), bool)
        self.natural = np.flatnonzero(natural)
        self.pairs = PairSet.from_embeddings(samples.embeddings[self.natural], samples.identity[self.natural])

    def score(self, model) -> tuple[float, float]:
        """EDC pAUC at 20% and 30% discard."""
        natural, resolution = self.natural, self.samples.resolution
        curve = edc(self.pairs, predict(model, self.inputs[natural], None if resolution is None else resolution[natural]), FMR)
        return pauc(curve, 0.2), pauc(curve, 0.3)


def regression_targets(samples: Samples, loss: str, m: float, s: float) -> np.ndarray:
    """What a regression loss fits: the cosine to the centre itself (`l2`, `rank`); for `soft` LightQNet's
    soft label of it at the operating point, sigmoid(s(cos − m)); for `match` the face's soft match rate
    against the better half of its identity's clean images, mean sigmoid(s(cos_ij − m)) — what the EDC
    and the calibrated quality ask (will this face match a good image at FMR 1e-3?). The centre cosine
    ranks faces well overall but spends the network on ordering good faces among themselves, which no
    decision at that threshold depends on; the match rate saturates for them and tells apart the faces
    near and below the threshold, where matches are won or lost. `mix` averages the match rate and the
    centre cosine: the match rate sorts out the faces that fail, the cosine keeps the good faces in order
    (the picks of good footage are chosen among them: a wink costs SFace ~0.05 of cosine but rarely a
    match). `cr` is CR-FIQA's certainty ratio: the centre cosine over one plus the cosine to the
    nearest other identity's centre (a face as close to a stranger as to its own centre is ambiguous)."""
    if loss == "soft":
        return (1.0 / (1.0 + np.exp(-s * (samples.label - m)))).astype(np.float32)
    cosine = np.clip(samples.label, 0, 1).astype(np.float32)
    if loss in ("match", "mix"):
        from .calibration import match_targets

        clean = samples.clean if samples.clean is not None else np.ones(len(samples), bool)
        target = match_targets(samples.embeddings, samples.identity, samples.source, clean, samples.label, m, softness=s)
        match = np.where(np.isfinite(target), target, cosine).astype(np.float32)
        return match if loss == "match" else (0.5 * (match + cosine)).astype(np.float32)
    if loss == "cr":
        return np.clip(samples.label / (1.0 + nearest_impostor_centre(samples)), 0, 1).astype(np.float32)
    return cosine


def nearest_impostor_centre(samples: Samples, chunk: int = 8192) -> np.ndarray:
    """Each sample's cosine to the nearest centre (normalised mean of the clean faces) of another
    identity: CR-FIQA's NNCCS, with every identity of the training sets as a negative class."""
    clean = samples.clean if samples.clean is not None else np.ones(len(samples), bool)
    totals = identity_sums(samples.embeddings, samples.identity, clean)
    centres = (totals / (np.linalg.norm(totals, axis=1, keepdims=True) + 1e-12)).astype(np.float32)
    nearest = np.empty(len(samples), np.float32)
    for start in range(0, len(samples), chunk):
        part = slice(start, start + chunk)
        similarity = samples.embeddings[part] @ centres.T
        similarity[np.arange(similarity.shape[0]), samples.identity[part]] = -1.0
        nearest[part] = similarity.max(axis=1)
    return nearest


def sampling_weights(samples: Samples, natural_share: float | None = None, targets: np.ndarray | None = None) -> np.ndarray:
    """Smooth re-sampling of the target histogram; with `natural_share`, that share of every batch comes
    from the undegraded images (each part re-sampled on its own), so the network ranks natural faces
    (what the evaluation and most users see) and does not only learn to spot synthetic damage."""
    targets = samples.label if targets is None else targets
    if natural_share is None or samples.clean is None:
        return smooth_weights(targets)
    weights = np.zeros(len(samples))
    for part, share in ((samples.clean, natural_share), (~samples.clean, 1 - natural_share)):
        weights[part] = share * smooth_weights(targets[part])
    return weights / weights.sum()


def ranking_loss(quality, label, scale: float = 10.0, min_difference: float = 0.05):
    """RankNet's pairwise logistic loss over the batch: for two faces whose labels differ by at least
    `min_difference`, the better-labelled one should score higher. The EDC only asks for the order."""
    import torch

    difference = label[:, None] - label[None, :]
    order = (difference > min_difference).float()
    margin = quality[:, None] - quality[None, :]
    return (torch.nn.functional.softplus(-scale * margin) * order).sum() / order.sum().clamp(min=1.0)


def pk_batches(identity: np.ndarray, rng: np.random.Generator, people: int, per_person: int, steps: int):
    """LightQNet batches: `people` identities × `per_person` samples (with replacement when fewer)."""
    members = [np.flatnonzero(identity == i) for i in range(identity.max() + 1)]
    members = [m for m in members if len(m) >= 2]
    for _ in range(steps):
        chosen = rng.choice(len(members), people, replace=False)
        yield np.concatenate([rng.choice(members[c], per_person, replace=len(members[c]) < per_person) for c in chosen])


def idq_loss(quality, embeddings, identity, source, m: float, s: float):
    """BCE(min(q_i, q_j), sigmoid(s(cos_ij - m))) over same-identity pairs of distinct samples."""
    import torch

    same = (identity[:, None] == identity[None, :]) & torch.triu(torch.ones_like(identity[:, None] == identity[None, :]), 1)
    same &= ~((source[:, None] == source[None, :]) & (embeddings @ embeddings.T > 0.9999))  # not a sample with itself
    i, j = torch.nonzero(same, as_tuple=True)
    target = torch.sigmoid(s * ((embeddings[i] * embeddings[j]).sum(1) - m))
    pair_quality = torch.minimum(quality[i], quality[j]).clamp(1e-6, 1 - 1e-6)
    return torch.nn.functional.binary_cross_entropy(pair_quality, target)


class Teacher:
    """Branch network for distillation: a small head on the recogniser's embedding, trained with IDQ."""

    def __init__(self, dim: int):
        import torch

        self.net = torch.nn.Sequential(torch.nn.Linear(dim, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1), torch.nn.Sigmoid())
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)


def bernoulli_kl(teacher, student):
    import torch

    t = teacher.clamp(1e-6, 1 - 1e-6)
    q = student.clamp(1e-6, 1 - 1e-6)
    return (t * torch.log(t / q) + (1 - t) * torch.log((1 - t) / (1 - q))).mean()


def train(samples: Samples, validation: Validation, recipe: Recipe, m: float, s: float,
          distill_weight: float = 10.0, batch_size: int = 128, log=print):
    """Train one network (the recipe's arch, size, width, loss, epochs, seed, natural_share, ema); returns
    the model at its best validation epoch and the training history. An epoch draws
    `recipe.samples_per_epoch` samples. With `ema`, validation and the returned model use an exponential
    moving average of the weights (decay `ema` a step): validation pAUC swings by ±0.003 between
    epochs of the raw weights, and the average smooths that."""
    import torch

    from .nets import ARCHITECTURES

    loss, ema = recipe.loss, recipe.ema
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    model = ARCHITECTURES[recipe.arch](input_size=recipe.size, **({"width": recipe.width} if recipe.width != 1.0 else {}))
    model = model.to(memory_format=torch.channels_last)  # see to_tensor
    inputs = network_inputs(samples.crops, model.input_size)
    steps = max(1, recipe.samples_per_epoch // batch_size)
    people = max(2, batch_size // 16)  # LightQNet's 8 identities × 16 images at batch 128
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=recipe.epochs * steps, pct_start=0.1)
    labels = torch.from_numpy(regression_targets(samples, loss, m, s))
    scales = scale_tensor(samples.resolution, len(samples))
    embeddings = torch.from_numpy(samples.embeddings)
    identity, source = torch.from_numpy(samples.identity), torch.from_numpy(samples.source)
    weights = sampling_weights(samples, recipe.natural_share, labels.numpy())
    teacher = Teacher(samples.embeddings.shape[1]) if loss == "distill" else None
    averaged = None
    if ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(ema), use_buffers=True)
    judged = averaged.module if averaged is not None else model
    best, best_state, history = float("inf"), None, []
    for epoch in range(1, recipe.epochs + 1):
        started, total = time.perf_counter(), 0.0
        if loss in REGRESSION_LOSSES:
            batches = (rng.choice(len(samples), batch_size, p=weights) for _ in range(steps))
        else:
            batches = pk_batches(samples.identity, rng, people=people, per_person=batch_size // people, steps=steps)
        for index in batches:
            x = to_tensor(inputs[index], flip=rng.random(len(index)) < 0.5)
            idx = torch.from_numpy(index)
            quality = forward(model, x, scales[idx]).reshape(-1)
            if loss in REGRESSION_LOSSES:
                objective = torch.mean((quality - labels[idx]) ** 2)
                if loss == "rank":
                    objective = objective + ranking_loss(quality, labels[idx])
            else:
                objective = idq_loss(quality, embeddings[idx], identity[idx], source[idx], m, s)
            if teacher is not None:
                teacher_quality = teacher.net(embeddings[idx]).reshape(-1)
                teacher_loss = idq_loss(teacher_quality, embeddings[idx], identity[idx], source[idx], m, s)
                teacher.optimizer.zero_grad()
                teacher_loss.backward()
                teacher.optimizer.step()
                objective = objective + distill_weight * bernoulli_kl(teacher_quality.detach(), quality)
            optimizer.zero_grad()
            objective.backward()
            optimizer.step()
            schedule.step()
            if averaged is not None:
                averaged.update_parameters(model)
            total += objective.item()
        score, score30 = validation.score(judged)
        history.append({"epoch": epoch, "loss": total / steps, "val_pauc20": score, "val_pauc30": score30})
        log(f"epoch {epoch:3d}  loss {total / steps:.4f}  val pAUC@20% {score:.5f}  @30% {score30:.5f}  "
            f"{time.perf_counter() - started:.0f}s")
        if score < best:
            best, best_state = score, {k: v.clone() for k, v in judged.state_dict().items()}
    judged.load_state_dict(best_state)
    judged.eval()
    return judged, history


def export_onnx(model, path: Path, output: str = "quality") -> None:
    """ONNX with a dynamic batch axis, checked against PyTorch through onnxruntime."""
    import torch

    from ..zoo.sessions import create_session
    from .nets import example_inputs

    model.eval()
    example = example_inputs(model, 4, random=True)
    names = ["input", SCALE_INPUT][: len(example)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the legacy exporter warns that it is legacy; it needs no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, example, str(path), input_names=names, output_names=[output],
                          dynamic_axes={**{n: {0: "batch"} for n in names}, output: {0: "batch"}},
                          opset_version=17, dynamo=False)
    with torch.no_grad():
        expected = model(*example).numpy()
    got = create_session(path).run(None, {n: t.numpy() for n, t in zip(names, example)})[0]
    if not np.allclose(expected, got, atol=1e-5):
        raise RuntimeError(f"{path}: ONNX export differs from PyTorch by {np.abs(expected - got).max():.2e}")


def next_version(card_path: Path) -> str:
    """One more than the version of the network a training run replaces (its card at `card_path`), else "1"."""
    try:
        return str(int(json.loads(card_path.read_text())["version"]) + 1)
    except (OSError, ValueError, KeyError, TypeError):
        return "1"


def _label_source_text(labels: str, norm_share: float = TRAIN_NORM_SHARE) -> str:
    """The model card's words for what replaced the leave-one-out centre cosine (nothing for `centre`)."""
    length = "SFace's feature length (its embedding's norm before normalising)"
    mapped = "mapped onto the cosine's scale by a least-squares line over the training samples (train.norm_labels)"
    mean = "the mean of" if norm_share == 0.5 else f"the weighted mean ({1 - norm_share:g} / {norm_share:g}) of"
    source = {"rho": "rho, the cosine to the identity's true centre from a rank-one fit of its pairwise cosines",
              "norm": f"{length}, {mapped}",
              "norm+mirror": f"the mean of {length} over the crop and its mirror image, {mapped}",
              "centre+norm": f"{mean} it and {length}, {mapped}",
              "centre+norm-natural": f"on the natural images, {mean} it and {length}, {mapped}"}.get(labels)
    return f"; in place of the leave-one-out centre cosine: {source}" if source else ""


def _blur_penalty_text(penalty: float, onset: float) -> str:
    start = f"from {onset:g} octaves, " if onset else ""
    return (f"; minus up to {penalty:g} for copies that lost detail against their own clean face, {start}in full at "
            f"{SOFTNESS_FULL:g} octaves of Laplacian variance (train.penalise_blur)") if penalty else ""


def model_card(name: str, recipe: Recipe, model, history: list[dict], m: float, s: float, counts: dict,
               version: str = "1") -> dict:
    from .nets import count_macs, count_params

    arch, loss, data = recipe.arch, recipe.loss, recipe.data

    best = min(history, key=lambda h: h["val_pauc20"])
    resize = "none (the crop itself)" if model.input_size == 112 else "INTER_AREA"
    return {
        "name": name,
        "version": version,
        "architecture": arch,
        "params": count_params(model),
        "mmacs": round(count_macs(model) / 1e6, 3),
        "mflops": round(2 * count_macs(model) / 1e6, 3),
        "preprocessing": {"size": model.input_size, "layout": "NCHW", "channels": "BGR", "mean": INPUT_MEAN, "std": INPUT_STD,
                          "from": f"112x112 ArcFace-aligned crop (insightface norm_crop); resize: {resize}",
                          **({"scale": f"second input `{SCALE_INPUT}`, (N, 1) float32: log2(eye distance in source pixels / "
                                       f"{TEMPLATE_EYE_DISTANCE:.1f}), clipped to [{SCALE_RANGE[0]:g}, {SCALE_RANGE[1]:g}] (score.scale_feature)"}
                             if getattr(model, "takes_scale", False) else {})},
        "output": "raw score in (0, 1), sigmoid; `calibration` maps it to a match probability",
        "label": {"l2": "tinyFQnet: cos(embedding, leave-one-out centre of the identity's clean images), L2 regression, smooth re-sampling",
                  "soft": f"cos(embedding, leave-one-out centre of the identity's clean images) as LightQNet's soft label sigmoid(s(cos - m)), m={m:.4f} (FMR 1e-3), s={s:.2f}; L2 regression, smooth re-sampling of the soft labels",
                  "match": f"soft match rate: mean sigmoid(s(cos - m)) against the better half of the identity's clean images (not the face's own source), m={m:.4f} (FMR 1e-3), s={s:.2f}; L2 regression, smooth re-sampling",
                  "cr": "CR-FIQA certainty ratio: cos(embedding, leave-one-out centre) / (1 + cos to the nearest other identity's centre, every training identity a negative); L2 regression, smooth re-sampling",
                  "mix": f"mean of the soft match rate (as `match`: m={m:.4f}, s={s:.2f}) and the cosine to the identity's leave-one-out centre; L2 regression, smooth re-sampling",
                  "rank": "tinyFQnet label cos(embedding, leave-one-out centre of the identity's clean images): L2 regression plus RankNet pairwise ranking loss over each batch, smooth re-sampling",
                  "idq": f"LightQNet: pairwise soft labels sigmoid(s(cos - m)), m={m:.4f}, s={s:.2f}, IDQ loss (min of pair)",
                  "distill": f"LightQNet IDQ (m={m:.4f}, s={s:.2f}) + branch distillation (KL, lambda=10) from a head on the SFace embedding"}[loss]
                 + _label_source_text(data.labels, data.norm_share) + _blur_penalty_text(data.blur_penalty, data.blur_onset),
        "recognizer": "SFace 2021dec int8 (OpenCV Zoo); threshold at FMR 1e-3 on training impostor pairs: " + f"{m:.4f}",
        "training_data": {
            "lfw": "people in peopleDevTrain.txt, minus every 10th identity (validation)",
            "celeba": "data/celeba minus every 4th identity (held out, never trained on or validated with), minus every 6th of the rest (validation)",
            "glint": "data/glint minus every 4th person (validation, at most 60 images each)",
            "celeba-aligned": "data/celeba-aligned minus every 10th identity (validation)",
            "degraded_copies_per_image": f"{data.degraded}, degraded at the source before detection (research/degrade.py: source_degradation)",
            "closed_eyes": ({"paint": "one more copy of every image with a blink or a wink painted on (degrade.close_eyes)",
                             "lids": "one more copy of every image with a blink or a wink made by stretching its upper lids down (degrade.shut_eyes)"}[data.eye_style]
                            if data.closed_eyes else "none (--no-closed-eyes)"),
            "heavy_jpeg": "one more copy of every image: its aligned crop as JPEG of quality 3-15 (sources.blocky_faces)",
            **counts},
        "never_seen": "LFW people in peopleDevTest.txt; every 4th CelebA identity",
        "recipe": asdict(recipe),
        "seed": recipe.seed,
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "validation_pauc20": round(best["val_pauc20"], 5),
        "validation_pauc30": round(best.get("val_pauc30", float("nan")), 5),
        "history": history,
        "heldout_metrics": "filled in by benchmarks/bench_quality.py",
    }


# Which identities of each training set validate (every k-th, sorted) and which are held out entirely.
VALIDATION_SPLITS = {"lfw": VALIDATION_EVERY, "glint": 4, "celeba-aligned": 10, "celeba": 6}
VALIDATION_CAP = 60  # clean images per identity in validation (glint has up to 752: pairs grow as the square)


def training_sets(data: Path, recipe: DataRecipe, cache: Path, workers: int, log=print) -> tuple[Samples, Samples, dict]:
    """Training and validation samples from the four sets of `data` (clean faces, `recipe.degraded`
    source degradations of each, a closed-eye copy and a heavy-JPEG copy), and their counts.
    CelebA's held-out identities and LFW's peopleDevTest.txt are never read."""
    from .sources import (
        blocky_faces,
        closed_eye_faces,
        face_resolution,
        source_faces,
        standard_sources,
        with_norms,
    )

    sources = standard_sources(data, read_people(data / "lfw" / "peopleDevTrain.txt"))
    heldout = set(celeba_heldout_people(sources["celeba"].root))
    train_parts, val_parts, counts = [], [], {}
    for name, source in sources.items():
        faces = [source_faces(source, copy, recipe.seed, cache, workers) for copy in range(recipe.degraded + 1)]
        for copy, f in enumerate(faces):
            f.resolution = face_resolution(f, copy, recipe.seed)
        # What each copy's training labels lose beyond SFace's own drop: the closed eyes lose
        # `closed_eye_penalty` (enrollment wants open eyes; SFace barely minds a wink), the heavy JPEG
        # copies `jpeg_penalty` (people judge picks by eye; SFace barely minds blocks on a large face).
        penalties = [0.0] * recipe.degraded
        if recipe.closed_eyes:
            faces.append(closed_eye_faces(source, recipe.seed, cache, workers, recipe.eye_style))
            penalties.append(recipe.closed_eye_penalty)
        faces.append(blocky_faces(source, recipe.seed, cache, workers))
        penalties.append(recipe.jpeg_penalty)
        if recipe.labels in NORM_LABELS:
            mirrored = recipe.labels == "norm+mirror"
            faces = [with_norms(f, workers, log, mirrored) for f in faces]
            if mirrored:  # the length of the crop and of its mirror image, averaged: a steadier teacher (docs/training.md)
                faces = [replace(f, norms=(f.norms + f.mirror_norms) / 2) for f in faces]
        if name == "celeba":  # its held-out identities are dropped before the validation split is taken
            faces = [f.subset(~np.isin(f.identities, list(heldout))) for f in faces]
        is_val = split_every(faces[0].identities, VALIDATION_SPLITS[name])
        val_people = set(faces[0].identities[is_val])
        val_clean = faces[0].subset(is_val & _first_per_identity(faces[0].identities, VALIDATION_CAP))
        val_images = {_image_key(path) for path in val_clean.paths}
        for part, keep_clean, keep in ((train_parts, ~is_val, lambda f: ~np.isin(f.identities, list(val_people))),
                                       (val_parts, None, lambda f: np.array([_image_key(p) in val_images for p in f.paths], bool))):
            clean = faces[0].subset(keep_clean) if keep_clean is not None else val_clean
            degraded = [f.subset(keep(f)) for f in faces[1:]]
            for f in (clean, *degraded):
                f.identities = np.array([f"{name}/{i}" for i in f.identities])
            if part is train_parts:
                part.append(build_samples(clean, degraded, penalties, recipe.centre_share, recipe.labels))
            else:  # validation labels stay the same for every recipe (SFace's own, all-image centres)
                part.append(build_samples(clean, degraded))
        counts[name] = {"train_samples": len(train_parts[-1]), "validation_samples": len(val_parts[-1])}
        log(f"{name}: {counts[name]['train_samples']} training, {counts[name]['validation_samples']} validation samples")
    train_samples = concat_samples(train_parts)
    if recipe.blur_penalty:
        penalise_blur(train_samples, recipe.blur_penalty, recipe.blur_onset)
    if recipe.labels in NORM_LABELS:
        norm_labels(train_samples, recipe.labels, recipe.norm_share)
    return train_samples, concat_samples(val_parts), counts


def softness(samples: Samples) -> np.ndarray:
    """How much detail each sample has lost against its own undegraded face: log2 of the ratio of their
    sharpness (variance of the Laplacian over the crop's central 80×80, the face without background);
    0 for the undegraded faces, negative where noise or JPEG blocks add edges. The bundled example's
    defocused second reads 3.0–3.5, its motion blur 2.3–2.6, its downscaled second 2.3–2.9."""
    sharpness = np.array([cv2.Laplacian(cv2.cvtColor(crop[16:96, 16:96], cv2.COLOR_BGR2GRAY), cv2.CV_32F).var()
                          for crop in samples.crops])
    own_clean = np.full(samples.source.max() + 1, -1)
    own_clean[samples.source[samples.clean]] = np.flatnonzero(samples.clean)
    return np.log2((sharpness[own_clean[samples.source]] + 1) / (sharpness + 1))


def penalise_blur(samples: Samples, penalty: float, onset: float = 0.0) -> None:
    """Take `penalty` off the labels of samples that lost 16 times their detail or more (SOFTNESS_FULL),
    in proportion below that down to `onset` octaves: a blurred face that SFace still recognises is not
    a face a person would pick, and the networks taught without it ranked the bundled example's
    defocused frames first."""
    ramp = (softness(samples) - onset) / (SOFTNESS_FULL - onset)
    taken_off = (penalty * np.clip(ramp, 0.0, 1.0)).astype(np.float32)
    samples.label = samples.label - taken_off
    samples.penalty = samples.penalty + taken_off


def norm_labels(samples: Samples, labels: str, norm_share: float = TRAIN_NORM_SHARE) -> None:
    """Relabel `samples` from SFace's feature length, which grows with how recognisable a face is (alone
    it ranks the validation faces better than the centre cosine our networks learn: docs/training.md), and which
    needs no other image of the identity, so its labels carry no noise from an identity's few or poor
    images. The length is mapped onto the centre cosine's scale by a least-squares line over all samples
    ("norm"; "norm+mirror": `samples.norm` is then the mean over the crop and its mirror image), or that
    averaged with the centre cosine, `norm_share` of it ("centre+norm"; "centre+norm-natural": on the
    natural images only, the degraded copies keep the cosine); penalties are taken off again."""
    cosine = samples.label + samples.penalty
    slope, intercept = np.polyfit(samples.norm, cosine, 1)
    mapped = slope * samples.norm + intercept
    if labels.startswith("centre+norm"):
        averaged = norm_share * mapped + (1.0 - norm_share) * cosine
        mapped = np.where(samples.clean, averaged, cosine) if labels == "centre+norm-natural" else averaged
    samples.label = (mapped - samples.penalty).astype(np.float32)


def _first_per_identity(identities: np.ndarray, cap: int) -> np.ndarray:
    seen: dict[str, int] = {}
    keep = np.zeros(len(identities), bool)
    for i, name in enumerate(identities):
        seen[name] = seen.get(name, 0) + 1
        keep[i] = seen[name] <= cap
    return keep


def fit_calibration(model, validation: Validation, threshold: float) -> dict:
    """The card's `calibration`: fitted on the validation faces, each compared with its identity's good
    clean images at the FMR 1e-3 threshold (research/calibration.py)."""
    from .calibration import apply, calibration_error, fit_logistic, match_targets

    v = validation.samples
    raw = predict(model, validation.inputs, v.resolution)
    target = match_targets(v.embeddings, v.identity, v.source, v.clean, v.label, threshold)
    a, b = fit_logistic(raw, target)
    return {"a": round(a, 5), "b": round(b, 5), "threshold": round(threshold, 5),
            "meaning": "probability that the face matches a good image of the same person at SFace's FMR 1e-3 threshold",
            "fitted_on": f"{int(np.isfinite(target).sum())} validation faces",
            "validation_ece": round(calibration_error(apply(raw, a, b), target), 4),
            "validation_ece_raw": round(calibration_error(raw, target), 4)}


def run_training(recipe: Recipe = Recipe(), data: Path | None = None, name: str | None = None, out: Path | None = None,
                 cache: Path = DEFAULT_CACHE, workers: int = 2, threads: int | None = None, command: str = "",
                 log=print) -> Path:
    """Train one network by `recipe` on the four sets of `data` (default ../shared/data), export it with
    its model card (recipe and calibration included) to `out` (default: the package's weights/); the
    .onnx path."""
    use_torch("fqselect train", threads)
    check_recipe(recipe)
    data, out = training_data(data), out or weights_dir()
    started = time.perf_counter()
    train_set, val_set, counts = training_sets(data, recipe.data, cache, workers, log)
    clean = train_set.clean
    m, s = soft_label_scale(train_set.embeddings[clean], train_set.identity[clean])
    log(f"{len(train_set)} training samples, {len(val_set)} validation; m={m:.4f} s={s:.2f}; prep {time.perf_counter() - started:.0f}s")
    validation = Validation(val_set, recipe.size)
    model, history = train(train_set, validation, recipe, m, s, log=log)
    name = name or recipe.arch
    version = next_version(out / f"{name}.json")
    export_onnx(model, out / f"{name}.onnx")
    totals = {"train_samples": len(train_set), "validation_samples": len(val_set), "per_set": counts}
    card = model_card(name, recipe, model, history, m, s, totals, version)
    card["calibration"] = fit_calibration(model, validation, m)
    card["training_seconds"] = round(time.perf_counter() - started)
    card["training_command"] = command
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"wrote {out / name}.onnx and .json in {card['training_seconds']} s; calibration {card['calibration']}")
    return out / f"{name}.onnx"


def use_torch(command: str, threads: int | None) -> None:
    """PyTorch with `threads` threads (default: all cores); a usage error naming `command` without it."""
    try:
        import torch
    except ImportError:
        raise UsageError(f"{command} needs PyTorch: pip install 'fqselect[train]'") from None
    torch.set_num_threads(max(1, threads or os.cpu_count() or 1))


def training_data(data: Path | None) -> Path:
    """The training sets' folder (default ../shared/data); a usage error naming what is missing."""
    data = data or shared_dir() / "data"
    for needed in ("lfw/images", "lfw/peopleDevTrain.txt", "celeba/images", "glint/images", "celeba-aligned/images"):
        if not (data / needed).exists():
            raise UsageError(f"{data / needed}: training data not found (see ../shared/README.md)")
    return data


def check_recipe(recipe: Recipe) -> None:
    """A usage error naming the option whose value is not one of the known ones."""
    from .nets import ARCHITECTURES
    from .sources import EYE_STYLES

    for option, value, known in (("--arch", recipe.arch, ARCHITECTURES), ("--loss", recipe.loss, LOSSES),
                                 ("--eye-style", recipe.data.eye_style, EYE_STYLES), ("--labels", recipe.data.labels, LABELS)):
        if value not in known:
            raise UsageError(f"{option} {value}: not one of {', '.join(known)}")
    if recipe.data.labels != "centre" and recipe.data.centre_share < 1.0:
        raise UsageError("--centre-share applies to --labels centre only")


def concat_samples(parts: list[Samples]) -> Samples:
    offsets = np.cumsum([0] + [p.identity.max() + 1 for p in parts[:-1]])
    source_offsets = np.cumsum([0] + [p.source.max() + 1 for p in parts[:-1]])
    return Samples(
        crops=np.concatenate([p.crops for p in parts]),
        embeddings=np.concatenate([p.embeddings for p in parts]),
        identity=np.concatenate([p.identity + o for p, o in zip(parts, offsets)]),
        source=np.concatenate([p.source + o for p, o in zip(parts, source_offsets)]),
        label=np.concatenate([p.label for p in parts]),
        clean=np.concatenate([p.clean if p.clean is not None else np.ones(len(p), bool) for p in parts]),
        resolution=None if any(p.resolution is None for p in parts) else np.concatenate([p.resolution for p in parts]),
        norm=None if any(p.norm is None for p in parts) else np.concatenate([p.norm for p in parts]),
        penalty=None if any(p.penalty is None for p in parts) else np.concatenate([p.penalty for p in parts]),
    )

