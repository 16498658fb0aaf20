"""The research harness: identity-labelled face sets, degradations, quality metrics, the evaluation
(`fqselect eval`) and the training of the quality networks (`fqselect train`, the [train] extra).

Nothing in the product (decode → detect → align → score → select → write) imports from here; the
harness imports the product's stages to see faces exactly as the pipeline does."""

import os
from dataclasses import dataclass, field
from pathlib import Path

# `fqselect train` defaults, declared once (the command's options and the training code read them here,
# where importing them costs nothing).
TRAIN_ARCH = "tinyfqnet-scale"  # the shipped default's architecture
TRAIN_SIZE = 112  # the ArcFace crop itself: the recogniser's own resolution
TRAIN_LOSS = "l2"
TRAIN_EPOCHS = 12
TRAIN_SAMPLES_PER_EPOCH = 120_000  # fewer left the networks under-fitted (docs/training.md)
TRAIN_DEGRADED = 4  # source-degraded copies of every training image
TRAIN_LABELS = "centre+norm"  # train.LABELS
TRAIN_NORM_SHARE = 0.5  # the feature length's share of a centre+norm label (train.norm_labels)
TRAIN_BLUR_PENALTY = 0.08  # train.penalise_blur: without it the network ranked a defocused frame first (docs/training.md)


@dataclass(frozen=True)
class DataRecipe:
    """What the training samples are made of (`train.training_sets`); the model card keeps it."""

    degraded: int = TRAIN_DEGRADED  # source-degraded copies of every image
    closed_eyes: bool = True  # one more copy with a blink or wink
    eye_style: str = "paint"  # how that copy is made: sources.EYE_STYLES
    closed_eye_penalty: float = 0.0  # taken off the closed-eye copies' labels beyond SFace's own drop
    jpeg_penalty: float = 0.0  # taken off the heavy-JPEG copies' labels likewise
    centre_share: float = 1.0  # label centres from each identity's best share of clean images
    labels: str = TRAIN_LABELS
    seed: int = 0  # the degradations' and closed eyes' seed (a new one re-embeds every copy)
    blur_penalty: float = TRAIN_BLUR_PENALTY  # taken off blurred copies' labels, in proportion to their loss of detail
    blur_onset: float = 0.0  # octaves of lost detail below which the blur penalty takes nothing off
    norm_share: float = TRAIN_NORM_SHARE  # the feature length's share of a centre+norm label, the centre cosine's the rest


@dataclass(frozen=True)
class Recipe:
    """One network's training recipe (`train.run_training`): the network, the loss and the data."""

    arch: str = TRAIN_ARCH
    size: int = TRAIN_SIZE
    width: float = 1.0
    loss: str = TRAIN_LOSS
    epochs: int = TRAIN_EPOCHS
    samples_per_epoch: int = TRAIN_SAMPLES_PER_EPOCH
    seed: int = 0  # the weights' and batches' seed
    natural_share: float | None = None  # share of each batch from undegraded images (None: as drawn)
    ema: float | None = None  # validate and keep an exponential moving average of the weights
    data: DataRecipe = field(default_factory=DataRecipe)


def shared_dir() -> Path:
    """The reference material (data sets, peer models): $FQ_SHARED, else `../shared` from the working
    directory (where it lies beside a checkout)."""
    return Path(os.environ.get("FQ_SHARED", "../shared"))
