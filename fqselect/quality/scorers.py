"""Choosing a quality scorer by name. Every scorer maps a FaceBatch to one quality in [0, 1] per face, so
networks and perceptual baselines are interchangeable everywhere (selection, `fqselect score`, the
evaluation harness)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import UsageError
from ..faces.batch import FaceBatch
from ..options import DEFAULT_NETWORK, FALLBACK_SCORER
from ..zoo.files import weights_dir
from ..zoo.registry import check_model, create_model
from .network import NetworkScorer, available_networks, read_card


class Scorer(Protocol):
    """What every quality scorer provides."""

    name: str
    version: str

    def score(self, faces: FaceBatch) -> np.ndarray:
        """(N,) float32 qualities in [0, 1], higher is better for recognition."""
        ...


def scorer_name(name: str = "auto") -> str:
    """What a scorer option stands for, checked without loading anything: `auto` is the trained default
    network, else the combined perceptual scorer; a path to an .onnx network with its card. UsageError
    for a name that is none of them."""
    if name == "auto":
        name = DEFAULT_NETWORK if DEFAULT_NETWORK in available_networks() else FALLBACK_SCORER
    if name.endswith(".onnx"):
        read_card(Path(name))
        return name
    try:
        name = check_model("scorer", name).name
    except UsageError as error:
        raise UsageError(f"{error} (or auto, or a path to an .onnx network)") from None
    if name in available_networks():
        read_card(weights_dir() / f"{name}.onnx")
    return name


def load_scorer(name: str = "auto") -> Scorer:
    """A scorer by name (see `scorer_name`): a registered scorer (perceptual, or a network in weights/),
    or a path to an .onnx file with its card beside it."""
    name = scorer_name(name)
    if name.endswith(".onnx"):
        return NetworkScorer.from_weights(name)
    return create_model("scorer", name)
