"""Quality networks in ONNX (ours in zoo/weights/, or any with a model card), run batched; a card's
calibration turns the raw score into a match probability."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from ..errors import UsageError
from ..faces.batch import ALIGNED_SIZE, TEMPLATE, FaceBatch, eye_distance
from ..zoo.files import weights_dir
from ..zoo.registry import ModelInfo, register_discoverer
from ..zoo.sessions import load_session

# A scale-aware network's second input: how large the face was in its source, as log2 of its eye distance
# in source pixels over the aligned crop's own (0 for a face as large as the crop; -2 for eyes 9 px apart).
# Capped at +0.5: a larger face is shrunk to the crop, so neither the network nor the recogniser sees more
# of it, and nearly all training faces lie below (uncapped networks extrapolated on talking heads in HD
# video, 1-2 octaves above).
SCALE_INPUT = "scale"
TEMPLATE_EYE_DISTANCE = float(eye_distance(TEMPLATE[None])[0])  # in the 112 crop's pixels
SCALE_RANGE = (-4.0, 0.5)


def scale_feature(eye_distances: np.ndarray) -> np.ndarray:
    """(N, 1) float32 scale input from eye distances in source pixels."""
    octaves = np.log2(np.maximum(np.asarray(eye_distances, np.float64), 1e-3) / TEMPLATE_EYE_DISTANCE)
    return np.clip(octaves, *SCALE_RANGE).astype(np.float32).reshape(-1, 1)


@dataclass(frozen=True)
class InputSpec:
    """How a network wants its input, read from its model card (`preprocessing`)."""

    size: int
    layout: str = "NCHW"  # or NHWC
    channels: str = "BGR"  # or RGB
    mean: float = 127.5
    std: float = 128.0

    @classmethod
    def from_card(cls, card: dict) -> "InputSpec":
        p = card["preprocessing"]
        return cls(int(p["size"]), p.get("layout", "NCHW"), p.get("channels", "BGR"),
                   float(p.get("mean", 127.5)), float(p.get("std", 128.0)))


def logit(q: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(q, np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def calibrated(raw: np.ndarray, calibration: dict | None) -> np.ndarray:
    """A network's raw score mapped to a match probability by its card's `calibration`
    (`sigmoid(a·logit(raw) + b)`, strictly increasing); the raw score when the card has none."""
    if not calibration:
        return raw
    z = calibration["a"] * logit(raw) + calibration["b"]
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # the logistic function, without overflow


class NetworkScorer:
    """A quality network in ONNX, run batched in one reused onnxruntime session; its card's calibration,
    when it has one, turns the raw score into a match probability."""

    batch_size = 256

    def __init__(self, path: str | Path, spec: InputSpec, name: str | None = None, version: str = "1",
                 threads: int | None = None, calibration: dict | None = None):
        self.path = Path(path)
        self.spec = spec
        self.name = name or self.path.stem
        self.version = version
        self.calibration = calibration
        self.card: dict = {}  # the model card, when loaded with one (`from_weights`)
        self.session = load_session(self.path, "a network", threads)
        self.input_name = self.session.get_inputs()[0].name
        self.takes_scale = any(i.name == SCALE_INPUT for i in self.session.get_inputs())

    @classmethod
    def from_weights(cls, path: str | Path) -> "NetworkScorer":
        """A network with its model card (`<name>.json`) beside it."""
        path = Path(path)
        card = read_card(path)
        scorer = cls(path, InputSpec.from_card(card), card.get("name", path.stem), str(card.get("version", "1")),
                     calibration=card.get("calibration"))
        scorer.card = card
        return scorer

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        size = self.spec.size
        if size == crops.shape[1]:
            batch = crops
        else:
            interpolation = cv2.INTER_AREA if size < ALIGNED_SIZE else cv2.INTER_LINEAR
            batch = np.stack([cv2.resize(c, (size, size), interpolation=interpolation) for c in crops])
        if self.spec.channels == "RGB":
            batch = batch[..., ::-1]
        batch = (batch.astype(np.float32) - self.spec.mean) / self.spec.std
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2) if self.spec.layout == "NCHW" else batch)

    def score(self, faces: FaceBatch) -> np.ndarray:
        out = np.empty(len(faces), np.float32)
        for start in range(0, len(faces), self.batch_size):
            chunk = self.preprocess(faces.crops[start : start + self.batch_size])
            feeds = {self.input_name: chunk}
            if self.takes_scale:
                feeds[SCALE_INPUT] = scale_feature(eye_distance(faces.landmarks[start : start + len(chunk)]))
            out[start : start + len(chunk)] = self.session.run(None, feeds)[0].reshape(-1)
        return np.clip(calibrated(out, self.calibration), 0.0, 1.0)


def _card_path(network: Path) -> Path:
    """The model card beside a network file; UsageError when either is missing."""
    card_path = network.with_suffix(".json")
    if not network.is_file() or not card_path.is_file():
        raise UsageError(f"{network}: quality network or its model card {card_path.name} is missing")
    return card_path


def read_card(network: Path) -> dict:
    """The model card of a network, checked: UsageError naming the file when it is missing, not JSON or
    lacks the input spec the scorer needs."""
    card_path = _card_path(network)
    try:
        card = json.loads(card_path.read_text())
        InputSpec.from_card(card)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise UsageError(f"{card_path}: not a usable model card ({type(error).__name__}: {error})") from None
    return card


def available_networks() -> list[str]:
    return sorted(p.stem for p in weights_dir().glob("*.onnx") if p.with_suffix(".json").is_file())


def _discover_networks() -> list[ModelInfo]:
    """The trained networks in weights/, each with its card's version and input spec."""
    found = []
    for name in available_networks():
        path = weights_dir() / f"{name}.onnx"
        try:
            card = read_card(path)
        except UsageError:
            card = {}  # listed; choosing it reports the broken card (scorer_name checks it)
        found.append(ModelInfo("scorer", name, str(card.get("version", "1")), partial(NetworkScorer.from_weights, path),
                               source="fqselect/zoo/weights (this project's network)",
                               info={"input": card.get("preprocessing", {}), "params": card.get("params"),
                                     "calibrated": bool(card.get("calibration"))}))
    return found


register_discoverer("scorer", _discover_networks)
