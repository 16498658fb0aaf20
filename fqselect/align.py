"""Stage 3 — alignment to the ArcFace 5-point template, with insightface's own `norm_crop`.

The 112×112 ArcFace crop is the one face representation every later stage shares: the recogniser
embeds it, the quality networks resize it to their own input size, the perceptual scorers read it.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np


def _load_face_align():
    """insightface's own face_align module, loaded by itself: `import insightface` runs the package's
    __init__, which imports scipy, requests, onnx and its apps (~0.5 s a process) for one function."""
    package = importlib.util.find_spec("insightface")
    if package is None or not package.submodule_search_locations:
        raise ImportError("fqselect needs insightface (pip install insightface)")
    path = Path(package.submodule_search_locations[0]) / "utils" / "face_align.py"
    spec = importlib.util.spec_from_file_location("fqselect._insightface_face_align", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


face_align = _load_face_align()

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
