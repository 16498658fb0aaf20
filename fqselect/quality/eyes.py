"""Eye openness, beside the quality score: how open the more closed eye of each face is.

The quality network learns from the recogniser, and SFace barely minds a wink or downcast eyes, so the
quality score cannot be what keeps closed eyes out of the picks; yet enrollment users reject them first.
Openness is measured geometrically: MediaPipe's iris landmark model (Apache-2.0, converted once from the
`mediapipe` wheel: zoo/weights/mediapipe/README.md) places 16 points on each eye's lids in a 64×64 crop
of the eye cut from the source frame, and the lids' mean distance over the eye's width is the eye's
opening. Trained on real eyes, it reads made-up, narrow and bespectacled open eyes as open, where a
network trained on synthetic closures read heavy eyeliner as a shut lid (docs/eyes.md).

The same model places each iris: `gaze` is how far the irises sit off the middle of the eyes, sideways,
as a share of the eye's width (0 looking at the camera; a side glance reads about 0.2), and the ranking
takes log-odds off a face that looks aside (`gaze_term`), which the recogniser barely minds either.

`eyes_open` maps the opening onto 0–1 by a logistic curve through SHUT_RATIO (0.08) and OPEN_RATIO
(0.92), strictly increasing so that no two openings tie, and the ranking
takes log-odds off faces whose eyes are not open (`eye_term`): a little under `--eyes prefer` (the
default), more under `--eyes open`, nothing under `--eyes any`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..cores import across_cores
from ..faces.batch import FaceBatch
from ..zoo.files import is_shipped, shipped_model
from ..zoo.registry import register_model
from ..zoo.sessions import load_session

EYE_MODEL = "mediapipe/iris_landmark.onnx"  # in zoo/weights/
EYE_SIDE = 64  # the model's input: a square crop of one eye, RGB in [0, 1]
# The crop's side in inter-ocular distances (eye centre to eye centre): MediaPipe crops 2.3 eye widths, and
# an eye is about 0.46 inter-ocular distances wide.
CROP_SCALE = 1.06
# The lids' points among the model's 71 contour points: 0 and 8 the corners, 1-7 the lower lid from
# corner to corner, 9-15 the upper lid above them.
LOWER, UPPER, CORNERS = list(range(1, 8)), list(range(9, 16)), (0, 8)
# The opening (the lids' mean distance over the eye's width) that reads as open (1) and as shut (0):
# OPEN_RATIO is about the lower quartile of the validation identities' natural photos (most of them open
# eyed); below SHUT_RATIO, under 40% of that, the lids all but meet (docs/eyes.md).
OPEN_RATIO, SHUT_RATIO = 0.20, 0.08
_MIDDLE, _SPREAD = (OPEN_RATIO + SHUT_RATIO) / 2, (OPEN_RATIO - SHUT_RATIO) / (2 * np.log(0.92 / 0.08))
OPEN_EYES = 0.8  # the openness from which the ranking takes nothing off
# A wink: the shut eye's squeezed lids still read a third open, so a face whose lids are far less apart on
# one eye than on the other reads that eye as more closed than its own opening says. Up to WINK_ASYMMETRY
# (1 - the smaller lid gap over the larger; about the 95th percentile of the validation identities'
# natural photos) nothing changes; beyond it the closer eye's opening shrinks by WINK_SHRINK per unit.
WINK_ASYMMETRY, WINK_SHRINK = 0.30, 2.0

# The eye term of the ranking, on the log-odds scale of the quality: a face loses up to EYE_WEIGHT[mode]
# log-odds as its more closed eye's openness falls from OPEN_EYES to 0 (a shut eye costs the whole
# weight); wider eyes earn nothing (wide-eyed surprise is no better for enrollment than calm open eyes).
EYE_WEIGHT = {"any": 0.0, "prefer": 1.5, "open": 4.0}
# A gaze under GAZE_AHEAD costs nothing; from there to GAZE_ASIDE the face loses up to the eye weight, as
# for shut eyes. On the talking clips the faces looking at the camera read under 0.04, glances 0.18-0.25
# (docs/eyes.md).
GAZE_AHEAD, GAZE_ASIDE = 0.06, 0.15
IRIS_CENTRE = 0  # of the model's 5 iris points


def gaze_term(gaze, mode: str):
    """What the gaze adds to a face's ranking score (0 or less) under --eyes `mode`."""
    shortfall = np.clip((np.asarray(gaze, np.float64) - GAZE_AHEAD) / (GAZE_ASIDE - GAZE_AHEAD), 0.0, 1.0)
    return -EYE_WEIGHT[mode] * shortfall


def eye_term(openness, mode: str):
    """What the eyes add to a face's ranking score (0 or less) under --eyes `mode`."""
    shortfall = np.clip((OPEN_EYES - np.asarray(openness, np.float64)) / OPEN_EYES, 0.0, 1.0)
    return -EYE_WEIGHT[mode] * shortfall


def eye_crops(faces: FaceBatch) -> np.ndarray:
    """(2N, 3, 64, 64) float32 RGB crops of each face's two eyes, levelled along the eye line, cut from the
    image each face was found in (`FaceBatch.sources`), as MediaPipe's iris pipeline cuts them: the model
    takes the image-left eye (MediaPipe's "left", its landmarks 33 and 133), so the image-right one is
    mirrored; edges replicated, values in [0, 1]."""
    crops = np.zeros((2 * len(faces), EYE_SIDE, EYE_SIDE, 3), np.uint8)
    for i in range(len(faces)):
        region = faces.sources[i]
        points = faces.landmarks[i, :2]
        left, right = points
        distance = max(float(np.linalg.norm(right - left)), 1.0)
        angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
        for k, centre in enumerate(points):
            turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, EYE_SIDE / (CROP_SCALE * distance))
            turn[:, 2] += (EYE_SIDE / 2 - centre[0], EYE_SIDE / 2 - centre[1])
            eye = cv2.warpAffine(region, turn, (EYE_SIDE, EYE_SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            crops[2 * i + k] = eye[:, ::-1] if k == 1 else eye
    return (crops[..., ::-1].astype(np.float32) / 255.0).transpose(0, 3, 1, 2)


def opening(contours: np.ndarray) -> np.ndarray:
    """(M,) each eye's opening from its (M, 71, 2) contour points: the lids' mean distance over the width."""
    gap = np.linalg.norm(contours[:, UPPER] - contours[:, LOWER], axis=2).mean(axis=1)
    width = np.linalg.norm(contours[:, CORNERS[0]] - contours[:, CORNERS[1]], axis=1)
    return gap / np.maximum(width, 1e-3)


def closer_opening(contours: np.ndarray) -> np.ndarray:
    """(N,) the opening of each face's more closed eye from its two eyes' (2N, 71, 2) contour points, less
    where the lids' gaps differ as a wink's do (both eyes are cut at one scale, so their gaps compare)."""
    gaps = np.linalg.norm(contours[:, UPPER] - contours[:, LOWER], axis=2).mean(axis=1).reshape(-1, 2)
    asymmetry = 1.0 - gaps.min(axis=1) / np.maximum(gaps.max(axis=1), 1e-6)
    shrink = np.clip(1.0 - WINK_SHRINK * np.maximum(asymmetry - WINK_ASYMMETRY, 0.0), 0.0, 1.0)
    return opening(contours).reshape(-1, 2).min(axis=1) * shrink


def gaze(contours: np.ndarray, irises: np.ndarray) -> np.ndarray:
    """(N,) the sideways gaze of N faces from their 2N eyes' contour (2N, 71, 2) and iris (2N, 5, 2) points,
    image-left eye first, the image-right one mirrored (as `eye_crops` cuts them): each iris centre's place
    along its eye's corner line (0.5: the middle); looking aside moves both irises one way, which in the
    mirrored crop is the other way, so half the difference of the two places is the gaze."""
    start, end = contours[:, CORNERS[0]], contours[:, CORNERS[1]]
    axis = end - start
    place = ((irises[:, IRIS_CENTRE] - start) * axis).sum(axis=1) / np.maximum((axis**2).sum(axis=1), 1e-6)
    place = place.reshape(-1, 2)
    return np.abs(place[:, 0] - place[:, 1]) / 2


def check_eye_model(_pack: str | None = None) -> Path:
    """The installed eye model's path; UsageError when it is missing (a broken install)."""
    return shipped_model(EYE_MODEL, "eye landmark model")


def eye_model_installed() -> bool:
    return is_shipped(EYE_MODEL)


@register_model("scorer", "eyes", "mediapipe-iris-0.10.14", source="fqselect/zoo/weights/mediapipe (Apache-2.0)",
                check=check_eye_model)
class EyeOpenness:
    """`score(faces)` is (N,) in [0, 1]: the openness of each face's more closed eye (a wink counts as
    closed). Registered as a scorer, so `--scorer eyes` and `fqselect score --scorer eyes` rank by it."""

    name = "eyes"
    version = "mediapipe-iris-0.10.14"
    batch_size = 64  # eyes a call

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else check_eye_model()
        self.session = load_session(self.path, "an eye landmark model", threads=1)  # a batch is split over the cores
        self.input_name = self.session.get_inputs()[0].name

    def landmarks(self, faces: FaceBatch) -> tuple[np.ndarray, np.ndarray]:
        """The 2N eyes' contour (2N, 71, 2) and iris (2N, 5, 2) points in their 64×64 crops."""
        parts = across_cores(self._landmarks, eye_crops(faces).reshape(len(faces), 2, 3, EYE_SIDE, EYE_SIDE))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _landmarks(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`landmarks` of (N, 2, ...) pairs of eye crops (a face's two eyes stay in one part)."""
        crops = pairs.reshape(-1, *pairs.shape[2:])
        contours = np.empty((len(crops), 71, 2), np.float32)
        irises = np.empty((len(crops), 5, 2), np.float32)
        for start in range(0, len(crops), self.batch_size):
            contour, iris = self.session.run(None, {self.input_name: crops[start : start + self.batch_size]})
            contours[start : start + len(contour)] = contour.reshape(len(contour), 71, 3)[:, :, :2]
            irises[start : start + len(iris)] = iris.reshape(len(iris), 5, 3)[:, :, :2]
        return contours, irises

    def openings(self, faces: FaceBatch) -> np.ndarray:
        """(N, 2) the opening of each face's image-left and image-right eye."""
        return opening(self.landmarks(faces)[0]).reshape(-1, 2)

    def read(self, faces: FaceBatch) -> tuple[np.ndarray, np.ndarray]:
        """(N,) openness (as `score`) and (N,) sideways gaze of each face."""
        if not len(faces):
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        contours, irises = self.landmarks(faces)
        closer = closer_opening(contours)
        openness = 1.0 / (1.0 + np.exp(-(closer - _MIDDLE) / _SPREAD))
        return openness.astype(np.float32), gaze(contours, irises).astype(np.float32)

    def score(self, faces: FaceBatch) -> np.ndarray:
        return self.read(faces)[0]
