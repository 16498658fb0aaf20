"""Stage 3 — alignment to the ArcFace 5-point template, with insightface's own `norm_crop`.

The 112×112 ArcFace crop is the one face representation every later stage shares: the recogniser
embeds it, the quality networks resize it to their own input size, the perceptual scorers read it.
"""

from __future__ import annotations

import warnings

import numpy as np

with warnings.catch_warnings():  # importing insightface pulls optional extras that warn at import
    warnings.simplefilter("ignore")
    from insightface.utils import face_align

ALIGNED_SIZE = 112
TEMPLATE = face_align.arcface_dst  # (5, 2) landmark positions in the 112×112 crop


def align_faces(image: np.ndarray, landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """(N, size, size, 3) uint8 BGR crops of the N faces whose 5 landmarks are given (N, 5, 2)."""
    crops = np.empty((len(landmarks), size, size, 3), np.uint8)
    with warnings.catch_warnings():  # scikit-image >= 0.26 deprecates the call norm_crop makes; same result
        warnings.simplefilter("ignore", FutureWarning)
        for i, points in enumerate(landmarks):
            crops[i] = face_align.norm_crop(image, points.astype(np.float32), image_size=size)
    return crops
