"""Stage 2, faces: detection with 5 landmarks (one file a detector), alignment to the ArcFace 112×112 crop,
and face embeddings (one file a recogniser); `FaceBatch` is the face record every later stage reads."""

from .align import detect_and_align
from .batch import ALIGNED_SIZE, TEMPLATE, FaceBatch, eye_distance

__all__ = ["detect_and_align", "ALIGNED_SIZE", "TEMPLATE", "FaceBatch", "eye_distance"]
