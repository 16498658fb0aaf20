"""The perceptual baselines of the tinyFQnet paper (blur, pose, JPEG, their product), the face's size, the
detector's confidence and a random floor: scorers with no weights, each mapping a measure onto [0, 1]."""

from __future__ import annotations

import cv2
import numpy as np

from ..faces.batch import TEMPLATE, FaceBatch, eye_distance
from ..zoo.registry import register_model

# Template geometry the pose and size scorers compare against (from the one ArcFace template).
_EYE_MID = TEMPLATE[:2].mean(axis=0)
_MOUTH_MID = TEMPLATE[3:].mean(axis=0)
TEMPLATE_EYE_MOUTH = float(np.linalg.norm(_MOUTH_MID - _EYE_MID))  # in the 112 crop's pixels
TEMPLATE_NOSE_RATIO = float((TEMPLATE[2, 1] - _EYE_MID[1]) / (_MOUTH_MID[1] - _EYE_MID[1]))


# Calibration of the perceptual scorers (why: each maps a raw measure onto [0, 1] with 0.5 at a value
# that is visibly degraded in the aligned crop).
BLUR_SCALE = 20.0  # variance of the Laplacian of the smoothed 112 crop; 1 - exp(-v / BLUR_SCALE)
BLUR_PRESMOOTH = 1.0  # sigma; without it sensor noise and JPEG block edges read as sharpness
JPEG_SCALE = 0.35  # excess 8×8 boundary gradient ratio; exp(-excess / JPEG_SCALE)
POSE_YAW_SCALE = 0.35  # nose offset from the eye midline, in half eye distances
POSE_PITCH_SCALE = 0.18  # nose height between eye line and mouth line, relative to the template


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


PERCEPTUAL = {
    cls.name: cls for cls in (BlurScorer, PoseScorer, JpegScorer, CombinedScorer, SizeScorer, DetectorScorer, RandomScorer)
}
for _cls in PERCEPTUAL.values():
    register_model("scorer", _cls.name, _cls.version, source="perceptual measure (no weights)")(_cls)
