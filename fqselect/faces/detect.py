"""Face detection with 5 landmarks (ArcFace order: left eye, right eye, nose, left mouth, right mouth, as
seen in the image): what every detector shares, and the search near known faces.

Every detector (one file each beside this one, registered in the zoo) has the same shape: built once,
then `detect(image_bgr) -> FaceBatch` in source-image pixels. Frames are shrunk to `max_side` before
detection: faces worth selecting are large enough to survive it, and it bounds the cost per frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..zoo.registry import check_model, create_model
from .batch import FaceBatch

NMS_IOU = 0.4
# A face found in one frame is looked for again in a nearby frame of the same video within its box grown
# by this many box sides on every side: room for a second of head and camera motion.
REGION_MARGIN = 1.0


def shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image resized so that its longer side is at most max_side, and the factor back to source."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), 1.0 / scale


def nms(boxes_xywh: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    keep = cv2.dnn.NMSBoxes(boxes_xywh.tolist(), scores.tolist(), threshold, NMS_IOU)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def detect_regions(detector, image: np.ndarray, boxes: np.ndarray, margin: float = REGION_MARGIN) -> FaceBatch:
    """Faces found again near `boxes` (faces of a nearby frame): the detector runs on those regions only,
    at the scale it sees the whole frame at, so a face costs a fraction of a full-frame run and its
    landmarks are placed as precisely. Faces cut by a region's edge are left out (seen only in part)."""
    height, width = image.shape[:2]
    scale = min(1.0, detector.max_side / max(height, width))
    found = []
    for x1, y1, x2, y2 in _merged(_regions(boxes, margin, width, height)):
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        crop = image[y1:y2, x1:x2]
        if scale < 1.0:
            size = (max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        faces = detector.detect(crop).scaled(1.0 / scale).shifted(x1, y1)
        edge = 2.0 / scale  # two detector pixels
        inside = np.all([
            (x1 == 0) | (faces.boxes[:, 0] > x1 + edge), (y1 == 0) | (faces.boxes[:, 1] > y1 + edge),
            (x2 == width) | (faces.boxes[:, 2] < x2 - edge), (y2 == height) | (faces.boxes[:, 3] < y2 - edge),
        ], axis=0)
        found.append(faces.take(inside))
    return FaceBatch.concat(found)


def _regions(boxes: np.ndarray, margin: float, width: int, height: int) -> list[list[int]]:
    """Each box as a square of its longer side, grown by `margin` sides each way, clipped to the image."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True) * (0.5 + margin)
    corners = np.hstack([centres - half, centres + half])
    corners = np.clip(np.rint(corners), 0, [width, height, width, height]).astype(int)
    return corners.tolist()


def _merged(regions: list[list[int]]) -> list[list[int]]:
    """Overlapping regions joined into their bounding box, until none overlap: one detector run each,
    and no face found twice."""
    merged: list[list[int]] = []
    for region in regions:
        while True:
            overlapping = [m for m in merged if m[0] < region[2] and region[0] < m[2] and m[1] < region[3] and region[1] < m[3]]
            if not overlapping:
                break
            for m in overlapping:
                merged.remove(m)
                region = [min(region[0], m[0]), min(region[1], m[1]), max(region[2], m[2]), max(region[3], m[3])]
        merged.append(region)
    return merged


def check_detector(name: str, model_pack: str | None = None) -> None:
    """UsageError, without loading anything, for a detector that cannot be built."""
    check_model("detector", name, model_pack)


def load_detector(name: str, model_pack: str | None = None, **options):
    """The registered detector called `name` (max_side, threshold as options)."""
    return create_model("detector", name, model_pack, **options)
