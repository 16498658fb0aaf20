"""The one face record that flows between stages (`FaceBatch`: faces as arrays), and the ArcFace template."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..zoo.files import import_skipping_init

face_align = import_skipping_init("insightface.utils", "face_align")  # insightface's __init__ is slow to import

ALIGNED_SIZE = 112  # the ArcFace crop every later stage shares
TEMPLATE = face_align.arcface_dst  # (5, 2) landmark positions in the 112×112 crop


def eye_distance(landmarks: np.ndarray) -> np.ndarray:
    """(N,) distance between the two eye landmarks of (N, 5, 2) points, in their pixels."""
    return np.linalg.norm(landmarks[:, 1] - landmarks[:, 0], axis=1)


@dataclass
class FaceBatch:
    """N faces: what the detector found (boxes, confidences, 5 landmarks, in source-image pixels) and,
    once aligned (`align.detect_and_align`), their 112×112 crops and source regions. The one face record
    every stage passes on: detectors return it, scorers read it."""

    boxes: np.ndarray  # (N, 4) float32 [x1, y1, x2, y2], source-frame pixels
    det_scores: np.ndarray  # (N,) float32
    landmarks: np.ndarray  # (N, 5, 2) float32, source-frame pixels
    crops: np.ndarray | None = None  # (N, 112, 112, 3) uint8 BGR ArcFace-aligned crops, after alignment
    # Unwarped source pixels of each box: the JPEG scorer needs the codec's 8×8 grid intact.
    regions: list[np.ndarray] = field(default_factory=list)
    # The image each face was found in (a reference, not a copy): the eye model cuts its eyes from it.
    sources: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.det_scores)

    @classmethod
    def empty(cls) -> "FaceBatch":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def take(self, keep: np.ndarray) -> "FaceBatch":
        """The faces selected by a boolean mask or index array."""
        indices = np.arange(len(self))[keep]
        return FaceBatch(self.boxes[indices], self.det_scores[indices], self.landmarks[indices],
                         None if self.crops is None else self.crops[indices],
                         [self.regions[i] for i in indices] if self.regions else [],
                         [self.sources[i] for i in indices] if self.sources else [])

    def scaled(self, factor: float) -> "FaceBatch":
        """The same faces at another image scale (geometry only)."""
        return FaceBatch(self.boxes * factor, self.det_scores, self.landmarks * factor)

    def shifted(self, dx: float, dy: float) -> "FaceBatch":
        return FaceBatch(self.boxes + [dx, dy, dx, dy], self.det_scores, self.landmarks + [dx, dy])

    @classmethod
    def from_crops(cls, crops: np.ndarray) -> "FaceBatch":
        """Already-aligned crops: landmarks sit on the template, the box is the whole crop."""
        n, size = len(crops), crops.shape[1]
        scale = size / 112.0
        return cls(
            boxes=np.tile(np.array([0, 0, size, size], np.float32), (n, 1)),
            det_scores=np.ones(n, np.float32),
            landmarks=np.repeat((TEMPLATE * scale)[None], n, axis=0).astype(np.float32),
            crops=crops,
            regions=list(crops),
            sources=list(crops),
        )

    @classmethod
    def concat(cls, batches: list["FaceBatch"]) -> "FaceBatch":
        """One batch of all faces (one large quality-network call; a frame's regions searched again)."""
        if not batches:
            return cls.empty()
        crops = [b.crops for b in batches]
        return cls(
            boxes=np.concatenate([b.boxes for b in batches]).astype(np.float32),
            det_scores=np.concatenate([b.det_scores for b in batches]).astype(np.float32),
            landmarks=np.concatenate([b.landmarks for b in batches]).astype(np.float32),
            crops=None if any(c is None for c in crops) else np.concatenate(crops),
            regions=[r for b in batches for r in b.regions],
            sources=[s for b in batches for s in b.sources],
        )
