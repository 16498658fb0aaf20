"""Stage 3 — alignment to the ArcFace 5-point template, insightface's `norm_crop` without its import cost.

The 112×112 ArcFace crop is the one face representation every later stage shares: the recogniser
embeds it, the quality networks resize it to their own input size, the perceptual scorers read it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .models import import_skipping_init

face_align = import_skipping_init("insightface.utils", "face_align")  # its __init__ costs ~0.5 s

ALIGNED_SIZE = 112
TEMPLATE = face_align.arcface_dst  # (5, 2) landmark positions in the 112×112 crop


def similarity_matrix(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The 2×3 least-squares similarity (rotation, scale, shift) taking `points` onto `template`.

    This is the transform insightface's norm_crop estimates (Umeyama's method, through scikit-image),
    written in its 2-D closed form with complex numbers: z' = a·z + t. Same result to float precision
    (tests/test_align.py checks it against norm_crop), without the ~0.4 s scikit-image/SciPy import that
    every `fqselect` process would otherwise pay on its first face."""
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
