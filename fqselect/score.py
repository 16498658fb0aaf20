"""Stage 4 — quality scoring. Every scorer maps a FaceBatch to one quality in [0, 1] per face, so learned
networks and the perceptual baselines of the tinyFQnet paper are interchangeable everywhere (selection,
`fqselect score`, the evaluation harness).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .align import ALIGNED_SIZE, TEMPLATE
from .defaults import DEFAULT_NETWORK, FALLBACK_SCORER
from .errors import UsageError
from .faces import FaceBatch, eye_distance
from .models import weights_dir
from .registry import ModelInfo, check_model, create_model, register_discoverer, register_model
from .runtime import load_session

# Template geometry the pose and size scorers compare against (from the one ArcFace template).
_EYE_MID = TEMPLATE[:2].mean(axis=0)
_MOUTH_MID = TEMPLATE[3:].mean(axis=0)
TEMPLATE_EYE_MOUTH = float(np.linalg.norm(_MOUTH_MID - _EYE_MID))  # ≈ 40.7 px in the 112 crop
TEMPLATE_NOSE_RATIO = float((TEMPLATE[2, 1] - _EYE_MID[1]) / (_MOUTH_MID[1] - _EYE_MID[1]))

# A scale-aware network's second input: how large the face was in its source, as log2 of its eye distance
# in source pixels over the aligned crop's own (0 for a face as large as the crop; -2 for eyes 9 px apart).
# Capped at +0.5: a larger face is shrunk to the crop, so neither the network nor the recogniser sees more
# of it, and 98% of the training faces lie below (talking heads in HD video, 1-2 octaves above, made the
# uncapped networks extrapolate).
SCALE_INPUT = "scale"
TEMPLATE_EYE_DISTANCE = float(eye_distance(TEMPLATE[None])[0])  # ≈ 35.2 px in the 112 crop
SCALE_RANGE = (-4.0, 0.5)


def scale_feature(eye_distances: np.ndarray) -> np.ndarray:
    """(N, 1) float32 scale input from eye distances in source pixels."""
    octaves = np.log2(np.maximum(np.asarray(eye_distances, np.float64), 1e-3) / TEMPLATE_EYE_DISTANCE)
    return np.clip(octaves, *SCALE_RANGE).astype(np.float32).reshape(-1, 1)


# Calibration of the perceptual scorers (why: each maps a raw measure onto [0, 1] with 0.5 at a value
# that is visibly degraded in the aligned crop).
BLUR_SCALE = 20.0  # variance of the Laplacian of the smoothed 112 crop; 1 - exp(-v / BLUR_SCALE)
BLUR_PRESMOOTH = 1.0  # sigma; without it sensor noise and JPEG block edges read as sharpness
JPEG_SCALE = 0.35  # excess 8×8 boundary gradient ratio; exp(-excess / JPEG_SCALE)
POSE_YAW_SCALE = 0.35  # nose offset from the eye midline, in half eye distances
POSE_PITCH_SCALE = 0.18  # nose height between eye line and mouth line, relative to the template


class Scorer(Protocol):
    """What every quality scorer provides."""

    name: str
    version: str

    def score(self, faces: FaceBatch) -> np.ndarray:
        """(N,) float32 qualities in [0, 1], higher is better for recognition."""
        ...


class BlurScorer:
    """Sharpness: variance of the Laplacian over the aligned crop's face area, after light smoothing."""

    name, version = "blur", "1"

    def score(self, faces: FaceBatch) -> np.ndarray:
        return np.array([_sharpness(c) for c in faces.crops], np.float32)


def _sharpness(crop: np.ndarray) -> float:
    face = crop[16:104, 20:92]
    gray = cv2.GaussianBlur(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), (0, 0), BLUR_PRESMOOTH)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)
    inside = cv2.erode(inside_source(face), np.ones((5, 5), np.uint8)) > 0
    if inside.sum() < 0.25 * inside.size:
        return 0.0  # mostly outside the frame: nothing to judge, and nothing to recognise
    return float(1.0 - np.exp(-laplacian[inside].var() / BLUR_SCALE))


def inside_source(crop: np.ndarray) -> np.ndarray:
    """uint8 mask of crop pixels that came from the source frame (alignment fills the rest with black)."""
    return (crop.max(axis=2) > 0).astype(np.uint8)


class PoseScorer:
    """Frontality from the 5 landmarks: yaw from the nose's offset to the eye-mouth midline, pitch from
    the nose's height between eye line and mouth line, both against the ArcFace template."""

    name, version = "pose", "1"

    def score(self, faces: FaceBatch) -> np.ndarray:
        points = faces.landmarks.astype(np.float64)
        eye_mid = points[:, :2].mean(axis=1)
        mouth_mid = points[:, 3:].mean(axis=1)
        axis = mouth_mid - eye_mid
        length = np.linalg.norm(axis, axis=1) + 1e-6
        unit = axis / length[:, None]
        nose = points[:, 2] - eye_mid
        along = (nose * unit).sum(axis=1) / length  # 0 at the eyes, 1 at the mouth
        across = (nose[:, 0] * unit[:, 1] - nose[:, 1] * unit[:, 0]) / (
            eye_distance(points) / 2 + 1e-6
        )
        yaw = across / POSE_YAW_SCALE
        pitch = (along - TEMPLATE_NOSE_RATIO) / POSE_PITCH_SCALE
        return np.exp(-0.5 * (yaw**2 + pitch**2)).astype(np.float32)


class JpegScorer:
    """Compression: gradient energy on the 8×8 block grid versus inside blocks (1 = no blocking)."""

    name, version = "jpeg", "1"

    def score(self, faces: FaceBatch) -> np.ndarray:
        return np.array([_unblockiness(r) for r in faces.regions], np.float32)


def _unblockiness(region: np.ndarray) -> float:
    gray = cv2.cvtColor(region, cv2.COLOR_BGR2GRAY).astype(np.float32) if region.ndim == 3 else region
    if min(gray.shape) < 24:
        return 0.5  # too small to see a block grid: no evidence either way
    ratios = []
    for diff in (np.abs(np.diff(gray, axis=1)), np.abs(np.diff(gray, axis=0)).T):
        on_grid = diff[:, 7::8].mean()
        off_grid = np.delete(diff, np.s_[7::8], axis=1).mean() + 1e-3
        ratios.append(on_grid / off_grid)
    excess = max(0.0, float(np.mean(ratios)) - 1.0)
    return float(np.exp(-excess / JPEG_SCALE))


class CombinedScorer:
    """Product of blur, pose and JPEG, as if each were the chance the face survives that factor: all
    three must be good for a high score."""

    name, version = "combined", "1"

    def __init__(self):
        self.parts = (BlurScorer(), PoseScorer(), JpegScorer())

    def score(self, faces: FaceBatch) -> np.ndarray:
        return np.prod([p.score(faces) for p in self.parts], axis=0).astype(np.float32)


class SizeScorer:
    """Resolution: eye-to-mouth distance in source pixels against the 112 crop's (saturates at 1)."""

    name, version = "size", "1"

    def score(self, faces: FaceBatch) -> np.ndarray:
        points = faces.landmarks
        distance = np.linalg.norm(points[:, 3:].mean(axis=1) - points[:, :2].mean(axis=1), axis=1)
        return np.clip(distance / TEMPLATE_EYE_MOUTH, 0.0, 1.0).astype(np.float32)


class DetectorScorer:
    """The detector's own confidence."""

    name, version = "detector", "1"

    def score(self, faces: FaceBatch) -> np.ndarray:
        return np.clip(faces.det_scores, 0.0, 1.0).astype(np.float32)


class RandomScorer:
    """Uniform noise, seeded: the floor every real scorer must beat in evaluation."""

    name, version = "random", "1"

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def score(self, faces: FaceBatch) -> np.ndarray:
        return self.rng.random(len(faces)).astype(np.float32)


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
        self.session = load_session(self.path, "a network", threads)
        self.input_name = self.session.get_inputs()[0].name
        self.takes_scale = any(i.name == SCALE_INPUT for i in self.session.get_inputs())

    @classmethod
    def from_weights(cls, path: str | Path) -> "NetworkScorer":
        """A network with its model card (`<name>.json`) beside it."""
        path = Path(path)
        card = read_card(path)
        return cls(path, InputSpec.from_card(card), card.get("name", path.stem), str(card.get("version", "1")),
                   calibration=card.get("calibration"))

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


PERCEPTUAL = {
    cls.name: cls for cls in (BlurScorer, PoseScorer, JpegScorer, CombinedScorer, SizeScorer, DetectorScorer, RandomScorer)
}
for _cls in PERCEPTUAL.values():
    register_model("scorer", _cls.name, _cls.version, source="perceptual measure (no weights)")(_cls)


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
                               source="fqselect/weights (this project's network)",
                               info={"input": card.get("preprocessing", {}), "params": card.get("params"),
                                     "calibrated": bool(card.get("calibration"))}))
    return found


register_discoverer("scorer", _discover_networks)


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
