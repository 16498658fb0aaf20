"""Alignment to the ArcFace 5-point template, insightface's `norm_crop` without its import cost.

The 112×112 ArcFace crop is the one face representation every later stage shares: the recogniser
embeds it, the quality networks resize it to their own input size, the perceptual scorers read it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .batch import ALIGNED_SIZE, TEMPLATE, FaceBatch
from .detect import detect_regions

BLOCK = 8  # JPEG/video codec block size: the JPEG scorer's regions start on this grid


def similarity_matrix(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The 2×3 least-squares similarity (rotation, scale, shift) taking `points` onto `template`.

    This is the transform insightface's norm_crop estimates (Umeyama's method, through scikit-image),
    written in its 2-D closed form with complex numbers: z' = a·z + t. Same result to float precision
    (tests/test_align.py checks it against norm_crop), without the scikit-image/SciPy import that every
    `fqselect` process would otherwise pay for on its first face."""
    p = points[:, 0].astype(np.float64) + 1j * points[:, 1]
    q = template[:, 0].astype(np.float64) + 1j * template[:, 1]
    p_centred, q_centred = p - p.mean(), q - q.mean()
    a = (np.conj(p_centred) @ q_centred) / np.vdot(p_centred, p_centred).real
    t = q.mean() - a * p.mean()
    return np.array([[a.real, -a.imag, t.real], [a.imag, a.real, t.imag]])


def align_faces(image: np.ndarray, landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """(N, size, size, 3) uint8 BGR crops of the N faces whose 5 landmarks are given (N, 5, 2): the
    ArcFace template and warp of insightface's norm_crop."""
    template = TEMPLATE * (size / ALIGNED_SIZE)
    crops = np.empty((len(landmarks), size, size, 3), np.uint8)
    for i, points in enumerate(landmarks):
        crops[i] = cv2.warpAffine(image, similarity_matrix(points, template), (size, size), borderValue=0.0)
    return crops


def region_origin(box: np.ndarray) -> np.ndarray:
    """Where a face's `face_region` starts in its image: (x, y) of its top-left pixel."""
    return np.array([max(0, int(v) // BLOCK * BLOCK) for v in box[:2]], np.float32)


def face_region(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box's source pixels, starting on the codec's 8×8 grid (a view, no copy)."""
    height, width = image.shape[:2]
    x1, y1 = (int(v) for v in region_origin(box))
    x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    return image[y1:max(y1 + 1, y2), x1:max(x1 + 1, x2)]


def detect_and_align(image: np.ndarray, detector, min_face: int = 0, regions: np.ndarray | None = None) -> FaceBatch:
    """Faces of one image (or of its `regions` only: boxes of faces in a nearby frame), at least min_face
    pixels on their shorter box side, with their aligned crops and source regions."""
    faces = detector.detect(image) if regions is None else detect_regions(detector, image, regions)
    if min_face and len(faces):
        sides = np.minimum(*(faces.boxes[:, 2:] - faces.boxes[:, :2]).T)
        faces = faces.take(sides >= min_face)
    faces.crops = align_faces(image, faces.landmarks)
    faces.regions = [face_region(image, box) for box in faces.boxes]
    faces.sources = [image] * len(faces)
    return faces
