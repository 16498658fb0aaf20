"""Mouth opening, beside the eyes: how far apart the inner lips are, over the mouth's width.

Enrollment wants a neutral face, and the recogniser barely minds a talking mouth, so neither the
network nor the agreement keeps wide-open mouths out of the picks (on the talking clips a face caught
mid-word can agree best with its set). MediaPipe's face mesh model (Apache-2.0, converted once from the
`mediapipe` wheel: zoo/weights/mediapipe/README.md) places 468 points on a 192×192 crop of the face cut
from the source frame; the inner lips' mean distance over the inner corners' distance is the opening
(0 closed, about 0.1–0.2 mid-word, 0.45 and up wide open).

The ranking takes log-odds off an open mouth (`mouth_term`): nothing up to CALM_MOUTH, then up to the
mouth weight by WIDE_MOUTH.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..cores import across_cores
from ..faces.batch import FaceBatch
from ..faces.recognize import batched
from ..zoo.files import is_shipped, shipped_model
from ..zoo.registry import register_model
from ..zoo.sessions import load_session

MESH_MODEL = "mediapipe/face_landmark.onnx"  # in zoo/weights/
MESH_SIDE = 192  # the model's input: a square crop of the face, RGB in [0, 1]
# The crop: centred between the eyes' and the mouth corners' midpoints, its side this many times the
# distance from the one midpoint to the other, levelled along the eye line. MediaPipe cuts 1.5 times the
# face's landmark box, and the box is about 2.5 eye-to-mouth distances tall (on talking_d6, 127 px of this
# 192 px crop).
CROP_SCALE = 3.8
# The mesh points of the inner lips, upper and lower in pairs from corner to corner, and the inner corners.
UPPER_LIP, LOWER_LIP = [82, 13, 312], [87, 14, 317]
INNER_CORNERS = (78, 308)
# The opening from which a face loses log-odds, and the one at which it loses the whole mouth weight.
CALM_MOUTH, WIDE_MOUTH = 0.15, 0.45
MOUTH_WEIGHT = {"any": 0.0, "prefer": 1.5, "closed": 4.0}


def mouth_term(opening, mode: str):
    """What the mouth adds to a face's ranking score (0 or less) under --mouth `mode`."""
    excess = np.clip((np.asarray(opening, np.float64) - CALM_MOUTH) / (WIDE_MOUTH - CALM_MOUTH), 0.0, 1.0)
    return -MOUTH_WEIGHT[mode] * excess


def face_crops(faces: FaceBatch) -> np.ndarray:
    """(N, 3, 192, 192) float32 RGB crops of the faces, levelled along the eye line, cut from the image
    each face was found in (`FaceBatch.sources`); edges replicated, values in [0, 1]."""
    crops = np.zeros((len(faces), MESH_SIDE, MESH_SIDE, 3), np.uint8)
    for i in range(len(faces)):
        left, right, _, mouth_left, mouth_right = faces.landmarks[i]
        eyes, mouth = (left + right) / 2, (mouth_left + mouth_right) / 2
        centre = (eyes + mouth) / 2
        span = max(float(np.linalg.norm(mouth - eyes)), 1.0)
        angle = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
        turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, MESH_SIDE / (CROP_SCALE * span))
        turn[:, 2] += (MESH_SIDE / 2 - centre[0], MESH_SIDE / 2 - centre[1])
        crops[i] = cv2.warpAffine(faces.sources[i], turn, (MESH_SIDE, MESH_SIDE), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
    return (crops[..., ::-1].astype(np.float32) / 255.0).transpose(0, 3, 1, 2)


def opening(points: np.ndarray) -> np.ndarray:
    """(N,) each mouth's opening from (N, 468, 2) mesh points: the inner lips' mean distance over the
    inner corners' distance."""
    gap = np.linalg.norm(points[:, UPPER_LIP] - points[:, LOWER_LIP], axis=2).mean(axis=1)
    width = np.linalg.norm(points[:, INNER_CORNERS[0]] - points[:, INNER_CORNERS[1]], axis=1)
    return gap / np.maximum(width, 1e-3)


def check_mesh_model(_pack: str | None = None) -> Path:
    """The installed face mesh model's path; UsageError when it is missing (a broken install)."""
    return shipped_model(MESH_MODEL, "face mesh model")


def mesh_model_installed() -> bool:
    return is_shipped(MESH_MODEL)


@register_model("scorer", "mouth", "mediapipe-face-mesh-0.10.14", source="fqselect/zoo/weights/mediapipe (Apache-2.0)",
                check=check_mesh_model)
class MouthOpening:
    """`read(faces)` is (N,) each face's mouth opening; `score(faces)` is (N,) in [0, 1], higher for a
    more closed mouth, so that `--scorer mouth` ranks calm mouths first."""

    name = "mouth"
    version = "mediapipe-face-mesh-0.10.14"
    batch_size = 16  # faces a call

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else check_mesh_model()
        self.session = load_session(self.path, "a face mesh model", threads=1)  # a batch is split over the cores
        self.input_name = self.session.get_inputs()[0].name

    def landmarks(self, faces: FaceBatch) -> np.ndarray:
        """(N, 468, 2) mesh points of the faces in their 192×192 crops (the model's first output; its
        second, the face-presence logit, is not used)."""
        parts = across_cores(lambda part: batched(self.session, self.input_name, part, self.batch_size), face_crops(faces))
        return np.concatenate(parts).reshape(-1, 468, 3)[:, :, :2]

    def read(self, faces: FaceBatch) -> np.ndarray:
        if not len(faces):
            return np.zeros(0, np.float32)
        return opening(self.landmarks(faces)).astype(np.float32)

    def score(self, faces: FaceBatch) -> np.ndarray:
        return (1.0 - np.clip(self.read(faces), 0.0, 1.0)).astype(np.float32)
