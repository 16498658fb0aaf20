"""Face measures from dlib's 68-point landmarks, for benchmarks only (the `eval` extra's
`face-recognition-models` weights, run by `dlib-bin`): each eye's aspect ratio, the mouth's opening and
the head's turn. An evaluation tool: the product never runs it, and nothing is trained on it.

- eye aspect ratio (Soukupová and Čech 2016): the mean of the two lid-to-lid distances over the eye's
  width; about 0.25–0.35 for an open eye, under 0.15 for a shut one;
- mouth opening: the inner lips' distance over the mouth's width (0 closed, about 0.5 and up wide open);
- yaw: the head's turn in degrees from `cv2.solvePnP` of six points against a generic 3-D face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# A generic face in millimetres (nose tip, chin, eye outer corners, mouth corners): the usual head-pose model.
MODEL_POINTS = np.array([(0.0, 0.0, 0.0), (0.0, -330.0, -65.0), (-225.0, 170.0, -135.0), (225.0, 170.0, -135.0),
                         (-150.0, -150.0, -125.0), (150.0, -150.0, -125.0)], np.float64)
POSE_LANDMARKS = [30, 8, 36, 45, 48, 54]


@dataclass
class Measures:
    ear_left: float  # the image-left eye
    ear_right: float
    mouth: float
    yaw: float  # degrees, signed

    @property
    def ear(self) -> float:
        """The more closed eye's aspect ratio (a wink counts as closed)."""
        return min(self.ear_left, self.ear_right)


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Six points of one eye in dlib's order (corner, two upper lid, corner, two lower lid)."""
    vertical = np.linalg.norm(points[1] - points[5]) + np.linalg.norm(points[2] - points[4])
    return float(vertical / (2.0 * np.linalg.norm(points[0] - points[3]) + 1e-9))


class FaceMeter:
    def __init__(self):
        import dlib

        from fqselect.zoo.files import packaged_model

        self.dlib = dlib
        self.predictor = dlib.shape_predictor(str(packaged_model("shape_predictor_68_face_landmarks.dat",
                                                                 "face_recognition_models")))

    def points(self, image: np.ndarray, box) -> np.ndarray:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        rgb = np.ascontiguousarray(image[..., ::-1])
        shape = self.predictor(rgb, self.dlib.rectangle(x1, y1, x2, y2))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64)

    def measure(self, image: np.ndarray, box) -> Measures:
        p = self.points(image, box)
        mouth = np.linalg.norm(p[62] - p[66]) / (np.linalg.norm(p[60] - p[64]) + 1e-9)
        return Measures(eye_aspect_ratio(p[36:42]), eye_aspect_ratio(p[42:48]), float(mouth), yaw(p, image.shape))


def yaw(points: np.ndarray, shape) -> float:
    height, width = shape[:2]
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], np.float64)
    ok, rotation, _ = cv2.solvePnP(MODEL_POINTS, points[POSE_LANDMARKS], camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float("nan")
    matrix, _ = cv2.Rodrigues(rotation)
    return float(np.degrees(np.arctan2(-matrix[2, 0], np.hypot(matrix[2, 1], matrix[2, 2]))))
