"""YuNet (OpenCV Zoo, int8, Apache-2.0), shipped in zoo/weights/opencv_zoo/, run by `cv2.FaceDetectorYN`."""

from __future__ import annotations

import cv2
import numpy as np

from ..options import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD
from ..zoo.files import packaged_model
from ..zoo.registry import register_model
from .batch import FaceBatch
from .detect import NMS_IOU, shrink

YUNET_MODEL = "face_detection_yunet_2023mar_int8bq.onnx"


@register_model("detector", "yunet", "2023mar-int8", source="fqselect/zoo/weights/opencv_zoo (Apache-2.0)",
                check=lambda _pack: packaged_model(YUNET_MODEL))
class YuNetDetector:
    """YuNet through OpenCV: faster than RetinaFace, slightly weaker on small faces."""

    name = "yunet"

    def __init__(self, max_side: int = DEFAULT_MAX_SIDE, threshold: float = DEFAULT_THRESHOLD):
        path = packaged_model(YUNET_MODEL)
        self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, NMS_IOU, 5000)
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> FaceBatch:
        small, back = shrink(image, self.max_side)
        self.model.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.model.detect(small)
        if rows is None or len(rows) == 0:
            return FaceBatch.empty()
        boxes = rows[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        return FaceBatch(boxes=boxes.astype(np.float32), det_scores=rows[:, 14].astype(np.float32),
                         landmarks=rows[:, 4:14].reshape(-1, 5, 2).astype(np.float32)).scaled(back)
