"""The data that flows between stages: faces of one frame, batched as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .models import import_skipping_init

face_align = import_skipping_init("insightface.utils", "face_align")  # its __init__ costs ~0.5 s

ALIGNED_SIZE = 112  # the ArcFace crop every later stage shares
TEMPLATE = face_align.arcface_dst  # (5, 2) landmark positions in the 112×112 crop


@dataclass
class FaceBatch:
    """N aligned faces and what the detector said about them. Scorers read only this."""

    crops: np.ndarray  # (N, 112, 112, 3) uint8 BGR ArcFace-aligned crops
    landmarks: np.ndarray  # (N, 5, 2) float32, source-frame pixels
    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2], source-frame pixels
    det_scores: np.ndarray  # (N,) float32
    # Unwarped source pixels of each box: the JPEG scorer needs the codec's 8×8 grid intact.
    regions: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.det_scores)

    @classmethod
    def from_crops(cls, crops: np.ndarray) -> "FaceBatch":
        """Already-aligned crops: landmarks sit on the template, the box is the whole crop."""
        n, size = len(crops), crops.shape[1]
        scale = size / 112.0
        return cls(
            crops=crops,
            landmarks=np.repeat((TEMPLATE * scale)[None], n, axis=0).astype(np.float32),
            boxes=np.tile(np.array([0, 0, size, size], np.float32), (n, 1)),
            det_scores=np.ones(n, np.float32),
            regions=list(crops),
        )

    @classmethod
    def concat(cls, batches: list["FaceBatch"]) -> "FaceBatch":
        """One batch of all faces, for one large quality-network call."""
        return cls(
            crops=np.concatenate([b.crops for b in batches]),
            landmarks=np.concatenate([b.landmarks for b in batches]),
            boxes=np.concatenate([b.boxes for b in batches]),
            det_scores=np.concatenate([b.det_scores for b in batches]),
            regions=[r for b in batches for r in b.regions],
        )
