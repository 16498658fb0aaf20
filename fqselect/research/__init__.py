"""The research harness: identity-labelled face sets, degradations, quality metrics, the evaluation
(`fqselect eval`) and the training of the quality networks (`fqselect train`, the [train] extra).

Nothing in the product (decode → detect → align → score → select → write) imports from here; the
harness imports the product's stages to see faces exactly as the pipeline does."""

import os
from pathlib import Path

# `fqselect train` defaults, declared once (the command's options and the training code read them here,
# where importing them costs nothing).
TRAIN_ARCH = "tinyfqnet-wide"  # the shipped default's architecture
TRAIN_SIZE = 112  # the ArcFace crop itself: the recogniser's own resolution
TRAIN_LOSS = "l2"
TRAIN_EPOCHS = 12
TRAIN_SAMPLES_PER_EPOCH = 40_000
TRAIN_DEGRADED = 2  # source-degraded copies of every training image


def shared_dir() -> Path:
    """The reference material (data sets, peer models): $FQ_SHARED, else `../shared` from the working
    directory (where it lies beside a checkout)."""
    return Path(os.environ.get("FQ_SHARED", "../shared"))
