"""Face embeddings: what every recogniser shares (one file each beside this one, registered in the zoo).

Each is built once, then `embed(crops) -> (N, D)` unit vectors from the 112×112 BGR ArcFace crops the
aligner makes, and carries its operating points (`points`: cosines at which faces match or link)."""

from __future__ import annotations

import numpy as np

from ..zoo.registry import check_model, create_model, model_info


def batched(session, input_name: str, blob: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [session.run(None, {input_name: blob[i : i + batch_size]})[0] for i in range(0, len(blob), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 128), np.float32)


def normalised(features: np.ndarray) -> np.ndarray:
    features = features.astype(np.float32)
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-12)


def default_recognizer(model_pack: str | None = None) -> str:
    """ArcFace when a model pack is given, else SFace."""
    return "arcface" if model_pack else "sface"


def check_recognizer(model_pack: str | None = None, name: str | None = None) -> dict:
    """UsageError, without loading it, when the recogniser cannot be built; its operating points."""
    return check_model("recognizer", name or default_recognizer(model_pack), model_pack).info


def load_recognizer(model_pack: str | None = None, name: str | None = None):
    """The registered recogniser `name` (sface, arcface, dlib; default: `default_recognizer`), with its
    operating points as `points` (see SFACE_POINTS)."""
    name = name or default_recognizer(model_pack)
    recognizer = create_model("recognizer", name, model_pack)  # checked there
    recognizer.points = model_info("recognizer", name).info
    return recognizer


def quality_weighted_mean(embeddings: np.ndarray, qualities: np.ndarray) -> np.ndarray:
    """The unit-length mean of unit embeddings weighted by quality (a template for enrollment)."""
    weights = np.clip(qualities, 1e-6, None)[:, None]
    mean = (embeddings * weights).sum(axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)
