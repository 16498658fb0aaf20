"""SCRFD from an insightface model pack on the user's disk, run by insightface's own model_zoo class."""

from __future__ import annotations

import numpy as np

from ..options import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD
from ..zoo.files import model_pack_file
from ..zoo.registry import register_model
from ..zoo.sessions import create_session, uses_cuda
from .batch import FaceBatch


@register_model("detector", "scrfd", "model pack", source="insightface model pack on disk (non-commercial)",
                needs_pack=True, check=lambda pack: model_pack_file(pack, "det_"))
class SCRFDDetector:
    """SCRFD from an insightface model pack (`--model-pack`)."""

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
