"""Training of the eye-openness network (`fqselect train-eyes`; the runtime model is `fqselect/eyes.py`).

No face set here labels eye openness, and few of its faces have closed eyes, so the closed eyes are
made: on each clean training face each eye is independently left open (openness 1), shut by its own
upper lid stretched down (`degrade.shut_eyes`, 0), squeezed shut (`degrade.squeeze_eyes`: brow and
cheek skin meeting at a thick lash line, a hard wink, 0), half shut (the lid lowered 40–80% of the way,
openness 1 − that share: downcast and squinting eyes) or painted over with cheek skin
(`degrade.close_eyes`, 0). Then the face is damaged as footage damages it (a lower resolution, blur,
JPEG, dim light and noise) and its alignment is disturbed a little (the 5-point detector's landmark
error), and the network learns the openness of each eye patch (binary cross-entropy on the soft target).
Fresh closures and damage every epoch; the validation identities of `fqselect train` judge the epochs.
Real blinks are never trained on: `benchmarks/bench_eyes.py` checks the network against the eye
aspect ratio of dlib's 68 landmarks on the talking clips.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from ..faces.batch import TEMPLATE
from ..quality.eyes import EYE_MODEL, PATCH_HEIGHT, PATCH_WIDTH, eye_patches
from ..zoo.files import package_weights
from . import EYES_EPOCHS
from .dataset import DEFAULT_CACHE
from .degrade import (
    close_eyes,
    defocus,
    downscale,
    jpeg,
    low_light,
    noise,
    shut_eyes,
    squeeze_eyes,
)

EYES_BATCH = 256
EYES_LEARNING_RATE = 3e-3
# Shares of eyes shut by the lid, squeezed shut, half shut, painted over (each eye drawn on its own); the
# rest stay open.
SHUT, SQUEEZED, HALF_SHUT, PAINTED = 0.22, 0.14, 0.10, 0.06
HALF_SHUT_RANGE = (0.4, 0.8)
LANDMARK_JITTER = 1.5  # pixels of the 112 crop, standard deviation of the eye position error


def closed_copy(crop: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The crop with each eye independently shut, squeezed shut, half shut, painted over or left open, and
    the two eyes' openness (image-left, image-right)."""
    openness = np.ones(2, np.float32)
    for eye in (0, 1):
        draw = rng.random()
        if draw < SHUT:
            crop, openness[eye] = shut_eyes(crop, [eye], rng), 0.0
        elif draw < SHUT + SQUEEZED:
            crop, openness[eye] = squeeze_eyes(crop, [eye], rng), 0.0
        elif draw < SHUT + SQUEEZED + HALF_SHUT:
            closure = rng.uniform(*HALF_SHUT_RANGE)
            crop, openness[eye] = shut_eyes(crop, [eye], rng, closure), 1.0 - closure
        elif draw < SHUT + SQUEEZED + HALF_SHUT + PAINTED:
            crop, openness[eye] = close_eyes(crop, [eye], rng), 0.0
    return crop, openness


def footage_damage(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What video does to a face, at random: a lower resolution or blur, JPEG, dim light or noise, and
    a slightly wrong alignment (a small shift, turn and scale about the eyes' midpoint). Heavier damage
    (down to a tenth of the size, JPEG of quality 5, motion blur) trained a network that followed real
    eyes less and still read the bundled example's tenth-size frames as open-eyed: not kept (docs/eyes.md)."""
    draw = rng.random()
    if draw < 0.25:
        crop = downscale(crop, rng.uniform(0.2, 0.7))
    elif draw < 0.4:
        crop = defocus(crop, rng.uniform(0.5, 2.0))
    if rng.random() < 0.3:
        crop = jpeg(crop, int(rng.integers(10, 60)))
    if rng.random() < 0.15:
        crop = low_light(crop, rng.uniform(0.3, 0.7), rng.uniform(2, 8), int(rng.integers(1 << 31)))
    elif rng.random() < 0.15:
        crop = noise(crop, rng.uniform(3, 10), int(rng.integers(1 << 31)))
    centre = tuple(float(v) for v in TEMPLATE[:2].mean(axis=0))
    warp = cv2.getRotationMatrix2D(centre, rng.normal(0, 4), rng.uniform(0.9, 1.1))
    warp[:, 2] += rng.normal(0, LANDMARK_JITTER, 2)
    return cv2.warpAffine(crop, warp, crop.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def training_patches(crops: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(2N, 1, H, W) eye patches of freshly closed and damaged copies of the crops, and their openness."""
    made = [closed_copy(crop, rng) for crop in crops]
    damaged = np.stack([footage_damage(crop, rng) for crop, _ in made])
    patches = eye_patches(damaged).reshape(-1, 1, PATCH_HEIGHT, PATCH_WIDTH)
    return patches, np.concatenate([openness for _, openness in made])


def clean_faces(data: Path, cache: Path, workers: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The clean aligned crops of the four training sets (CelebA's held-out identities and LFW's
    peopleDevTest people never read), and which of them belong to `fqselect train`'s validation
    identities."""
    from .dataset import read_people
    from .sources import source_faces, standard_sources
    from .train import VALIDATION_SPLITS, celeba_heldout_people, split_every

    sources = standard_sources(data, read_people(data / "lfw" / "peopleDevTrain.txt"))
    heldout = set(celeba_heldout_people(sources["celeba"].root))
    crops, validation = [], []
    for name, source in sources.items():
        faces = source_faces(source, 0, seed, cache, workers)
        if name == "celeba":
            faces = faces.subset(~np.isin(faces.identities, list(heldout)))
        crops.append(faces.crops)
        validation.append(split_every(faces.identities, VALIDATION_SPLITS[name]))
    return np.concatenate(crops), np.concatenate(validation)


def separation(openness: np.ndarray, target: np.ndarray) -> float:
    """AUC: how often an open eye (target 1) scores above a shut one (target 0); ties count half."""
    from scipy.stats import rankdata

    known = (target == 0) | (target == 1)
    ranks, is_open = rankdata(openness[known]), target[known] == 1
    opened, shut = is_open.sum(), (~is_open).sum()
    return float((ranks[is_open].sum() - opened * (opened + 1) / 2) / max(1, opened * shut))


def train_eyes(crops: np.ndarray, validation: np.ndarray, epochs: int, seed: int, log=print):
    """The network of the epoch with the lowest validation loss, and the history."""
    import torch
    from torch import nn

    from .nets import EyeNet

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = EyeNet()
    optimiser = torch.optim.AdamW(model.parameters(), EYES_LEARNING_RATE, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    val_patches, val_target = (torch.from_numpy(a) for a in training_patches(crops[validation], np.random.default_rng(seed + 1)))
    history, best, best_state = [], float("inf"), None
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        patches, target = (torch.from_numpy(a) for a in training_patches(crops[~validation], rng))
        model.train()
        order = torch.randperm(len(patches))
        for start in range(0, len(order), EYES_BATCH):
            batch = order[start : start + EYES_BATCH]
            loss = nn.functional.binary_cross_entropy(model(patches[batch]), target[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        model.eval()
        with torch.no_grad():
            predicted = model(val_patches)
            val_loss = float(nn.functional.binary_cross_entropy(predicted, val_target))
        auc = separation(predicted.numpy(), val_target.numpy())
        history.append({"epoch": epoch, "val_loss": round(val_loss, 5), "val_auc_open_vs_shut": round(auc, 5),
                        "seconds": round(time.perf_counter() - started, 1)})
        log(f"epoch {epoch}: validation loss {val_loss:.4f}, open-vs-shut AUC {auc:.4f} ({history[-1]['seconds']} s)")
        if val_loss < best:
            best, best_state = val_loss, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return model, history


def eyes_card(model, history: list[dict], seed: int, count: int, command: str) -> dict:
    from .nets import count_macs, count_params

    best = min(history, key=lambda h: h["val_loss"])
    return {
        "name": "eyenet",
        "version": "1",
        "params": count_params(model),
        "mmacs_per_face": round(2 * count_macs(model) / 1e6, 3),  # two eye patches a face
        "input": f"(2N, 1, {PATCH_HEIGHT}, {PATCH_WIDTH}) grey eye patches of the 112 ArcFace crop, each standardised, the "
                 "image-right eye mirrored (fqselect.eyes.eye_patches)",
        "output": "openness of each eye in (0, 1), sigmoid; a face's score is its more closed eye's",
        "label": "synthetic: each eye of a clean face left open (1), shut by its stretched upper lid (0), squeezed shut (0), "
                 f"half shut ({HALF_SHUT_RANGE[0]:g}-{HALF_SHUT_RANGE[1]:g} of the way: 1 - that share) or painted over (0), "
                 f"shares {SHUT}/{SQUEEZED}/{HALF_SHUT}/{PAINTED}; then footage damage and alignment error (research/eyes.py)",
        "training_data": f"{count} clean faces of LFW (peopleDevTrain.txt), CelebA (minus its held-out identities), Glint "
                         "and CelebA-aligned; validation: fqselect train's validation identities",
        "seed": seed,
        "best_epoch": best["epoch"],
        "validation_loss": best["val_loss"],
        "validation_auc_open_vs_shut": best["val_auc_open_vs_shut"],
        "history": history,
        "training_command": command,
    }


def run_eyes_training(data: Path | None = None, out: Path | None = None, epochs: int = EYES_EPOCHS, seed: int = 0,
                      cache: Path = DEFAULT_CACHE, workers: int = 2, threads: int | None = None, command: str = "",
                      log=print) -> Path:
    """Train the eye-openness network and write it with its card to `out` (default: the package's
    weights/eyes/); the .onnx path."""
    from .train import export_onnx, training_data, use_torch

    use_torch("fqselect train-eyes", threads)
    data = training_data(data)
    started = time.perf_counter()
    crops, validation = clean_faces(data, cache, workers, seed=0)  # the cached clean faces of fqselect train
    log(f"{int((~validation).sum())} training faces, {int(validation.sum())} validation")
    model, history = train_eyes(crops, validation, epochs, seed, log)
    path = (out or package_weights() / Path(EYE_MODEL).parent) / Path(EYE_MODEL).name
    export_onnx(model, path, output="openness")
    card = eyes_card(model, history, seed, len(crops), command)
    card["training_seconds"] = round(time.perf_counter() - started)
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"wrote {path} and its card in {card['training_seconds']} s")
    return path
