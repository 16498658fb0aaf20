"""Eye openness, beside the quality score: how open the more closed eye of each aligned face is.

The quality network learns from the recogniser, and SFace barely minds a wink or downcast eyes (its
similarity to a person's centre does not rise with eye openness on our talking clips), so the quality
score cannot be what keeps closed eyes out of the picks; yet enrollment users reject them first. A
second tiny network (`research/eyes.py` trains it) reads one grey patch around each eye of the 112
crop, where the ArcFace template puts the eyes, and says how open it is. Every pick reports it
(`eyes_open`). By default (`--eyes prefer`) open eyes break near-ties of quality (`eye_merit`); with
`--eyes open` selection ranks faces by quality × `eye_factor(openness)`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..faces.batch import TEMPLATE, FaceBatch
from ..zoo.files import package_weights
from ..zoo.registry import register_model
from ..zoo.sessions import load_session

# The patch: PATCH_HEIGHT × PATCH_WIDTH pixels of the 112 crop, the eye centre PATCH_ABOVE rows from its
# top (the brow and upper lid above it, where a closing lid shows, matter more than the cheek below).
PATCH_WIDTH, PATCH_HEIGHT, PATCH_ABOVE = 32, 24, 14
EYE_CENTRES = np.round(TEMPLATE[:2]).astype(int)  # (2, 2) x, y of the image-left and image-right eye
# Added to each patch's standard deviation before dividing by it: flat patches (a dark frame, a shut eye
# on smooth skin) are not blown up into noise.
CONTRAST_FLOOR = 8.0
# Openness from which eyes count as open when ranking (--eyes open): below it the quality is scaled down
# in proportion, above it wider eyes earn nothing (with the plain product, wide-eyed surprise and open
# mouths outranked calm faces among the talking clips' picks). Chosen on the synthetic validation faces
# (docs/eyes.md).
OPEN_EYES = 0.8
EYE_MODEL = "eyes/eyenet.onnx"  # in zoo/weights/ with its card (a subfolder: not a quality scorer)


def eye_factor(openness: np.ndarray) -> np.ndarray:
    """What --eyes open multiplies a face's quality by: its openness over OPEN_EYES, at most 1."""
    return np.minimum(1.0, np.asarray(openness) / OPEN_EYES)


# --eyes prefer (the default): a face with shut eyes loses at most this much of its match probability
# when ranked, so open eyes decide between faces the recogniser rates about alike and never against a
# clearly better face (docs/eyes.md).
EYE_TIEBREAK = 0.01


def eye_merit(quality: np.ndarray, openness: np.ndarray, mode: str) -> np.ndarray:
    """What ranks the picks: under --eyes prefer the quality less up to EYE_TIEBREAK as the eyes close,
    under --eyes open the quality times `eye_factor`."""
    if mode == "open":
        return quality * eye_factor(openness)
    return quality - EYE_TIEBREAK * (1.0 - eye_factor(openness))


def eye_patches(crops: np.ndarray) -> np.ndarray:
    """(N, 2, PATCH_HEIGHT, PATCH_WIDTH) float32 grey eye patches of (N, 112, 112, 3) BGR crops, each
    standardised; the image-right eye mirrored, so that one network reads both as an image-left eye."""
    grey = crops.astype(np.float32) @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR weights of cv2's grey
    patches = []
    for k, (x, y) in enumerate(EYE_CENTRES):
        patch = grey[:, y - PATCH_ABOVE : y - PATCH_ABOVE + PATCH_HEIGHT, x - PATCH_WIDTH // 2 : x + PATCH_WIDTH // 2]
        patches.append(patch[:, :, ::-1] if k == 1 else patch)
    out = np.stack(patches, axis=1)
    mean = out.mean(axis=(2, 3), keepdims=True)
    std = out.std(axis=(2, 3), keepdims=True)
    return ((out - mean) / (std + CONTRAST_FLOOR)).astype(np.float32)


def check_eye_model(_pack: str | None = None) -> Path:
    """The installed eye-openness network's path; UsageError when it or its card is missing (a broken
    install)."""
    path = package_weights() / EYE_MODEL
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise UsageError(f"{path}: eye-openness network or its card is missing (reinstall fqselect)")
    return path


def eye_model_installed() -> bool:
    try:
        check_eye_model()
    except UsageError:
        return False
    return True


@register_model("scorer", "eyes", "1", source="fqselect/zoo/weights/eyes (this project's network)", check=check_eye_model)
class EyeOpenness:
    """The eye-openness network: `score(faces)` is (N,) in [0, 1], the openness of each face's more closed
    eye (a wink counts as closed). Registered as a scorer, so `--scorer eyes` and `fqselect score
    --scorer eyes` rank by it alone."""

    name = "eyes"
    batch_size = 512

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else check_eye_model()
        self.session = load_session(self.path, "an eye-openness network")
        try:
            self.version = str(json.loads(self.path.with_suffix(".json").read_text()).get("version", "1"))
        except (OSError, ValueError, AttributeError) as error:
            raise UsageError(f"{self.path.with_suffix('.json')}: not a usable model card ({error})") from None
        self.input_name = self.session.get_inputs()[0].name

    def score(self, faces: FaceBatch) -> np.ndarray:
        out = np.empty((len(faces), 2), np.float32)
        for start in range(0, len(faces), self.batch_size):
            patches = eye_patches(faces.crops[start : start + self.batch_size])
            batch = patches.reshape(-1, 1, PATCH_HEIGHT, PATCH_WIDTH)
            out[start : start + len(patches)] = self.session.run(None, {self.input_name: batch})[0].reshape(-1, 2)
        return out.min(axis=1) if len(faces) else np.zeros(0, np.float32)
