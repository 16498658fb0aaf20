"""ArcFace from an insightface model pack on the user's disk (`--model-pack`), run by insightface's class."""

from __future__ import annotations

import numpy as np

from ..cores import across_cores
from ..errors import UsageError
from ..zoo.files import model_pack_file
from ..zoo.registry import register_model
from ..zoo.sessions import create_session
from .recognize import normalised

# ArcFace (w600k/glint R50/R100) separates identities more widely than SFace: insightface's usual
# verification threshold. Not measured here: no model pack can be had on this machine.
ARCFACE_POINTS = {"match": 0.30, "link": 0.45, "link_min": 0.15}


@register_model("recognizer", "arcface", "model pack", source="insightface model pack on disk (non-commercial)",
                needs_pack=True, check=lambda pack: _pack_recognizer(pack), **ARCFACE_POINTS)
class ArcFaceRecognizer:
    """ArcFace from an insightface model pack on disk (e.g. buffalo_l's w600k_r50.onnx)."""

    name = "arcface"
    batch_size = 32

    def __init__(self, pack: str):
        from insightface.model_zoo import ArcFaceONNX

        path = _pack_recognizer(pack)
        self.model = ArcFaceONNX(model_file=str(path), session=create_session(path, threads=1))
        self.name = f"arcface:{path.parent.name}/{path.stem}"

    def embed(self, crops: np.ndarray) -> np.ndarray:
        if not len(crops):
            return np.zeros((0, 512), np.float32)
        return normalised(np.concatenate(across_cores(self._features, crops)))

    def _features(self, crops: np.ndarray) -> np.ndarray:
        return np.concatenate([self.model.get_feat(list(crops[i : i + self.batch_size])) for i in range(0, len(crops), self.batch_size)])


def _pack_recognizer(pack: str):
    for prefix in ("w600k", "glint", "arcface"):
        try:
            return model_pack_file(pack, prefix)
        except UsageError as missing:
            error = missing
    raise error
