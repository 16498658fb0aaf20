"""The face's parts the recogniser barely minds and enrollment looks at first: the eyes (open, looking at
the camera: quality/eyes.py) and the mouth (calm, not mid-word: quality/mouth.py), read together from
the frame a face came from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..faces.batch import FaceBatch
from .eyes import EyeOpenness, eye_model_installed
from .mouth import MouthOpening, mesh_model_installed


@dataclass
class PartReadings:
    """(N,) arrays, None where the model is not installed."""

    eyes_open: np.ndarray | None
    gaze: np.ndarray | None
    mouth_open: np.ndarray | None


class FaceParts:
    """Reads each face's eyes and mouth with the models installed (a broken install reads without the
    missing one; --eyes open and --mouth closed refuse to start without theirs: run/bundle.py)."""

    def __init__(self):
        self.eyes = EyeOpenness() if eye_model_installed() else None
        self.mouth = MouthOpening() if mesh_model_installed() else None

    def read(self, faces: FaceBatch) -> PartReadings:
        openness, gaze = self.eyes.read(faces) if self.eyes else (None, None)
        return PartReadings(openness, gaze, self.mouth.read(faces) if self.mouth else None)


def parts_installed() -> bool:
    return eye_model_installed() or mesh_model_installed()
