"""The score job: every face of every image scored, without choosing among them (`fqselect score`,
`fqselect.score_images`). Images are read ahead on a thread pool and faces scored in large batches."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..decode.readahead import images_ahead
from ..decode.video import VIDEO_SUFFIXES
from ..errors import NO_FACE_REASON, InputError
from ..faces import ALIGNED_SIZE, FaceBatch, detect_and_align
from ..faces.detect import load_detector
from ..options import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD
from ..quality import Scorer, load_scorer
from ..quality.parts import FaceParts, parts_installed

SCORE_BATCH = 256  # faces per quality-network call


def score_images(
    paths: Iterable[str],
    aligned: bool = False,
    scorer: str | Scorer = "auto",
    detector: str = "retinaface",
    model_pack: str | None = None,
    min_face: int = 0,
    det_size: int = DEFAULT_MAX_SIDE,
    det_threshold: float = DEFAULT_THRESHOLD,
    parts: bool = True,
) -> Iterator[dict]:
    """One record per face, in input order: {path, face, quality, [eyes_open, gaze, mouth_open], scorer,
    [bbox, landmarks, det_score]}; an unreadable image or one with no face gives {path, error}. Faces are
    scored in large batches; `parts` adds each face's eyes and mouth readings (quality/parts.py)."""
    scorer = load_scorer(scorer) if isinstance(scorer, str) else scorer
    reader = FaceParts() if parts and parts_installed() else None
    face_finder = None if aligned else load_detector(detector, model_pack, max_side=det_size, threshold=det_threshold)
    pending: list[tuple[str, FaceBatch | None, str | None]] = []
    pending_faces = 0
    for path, image, error in images_ahead(paths):
        if error is not None and Path(path).suffix.lower() in VIDEO_SUFFIXES:
            error = f"a video: `fqselect score` scores images (`fqselect {path}` picks a video's faces)"
        batch = None
        if error is None:
            try:
                batch = _aligned_batch(path, image) if aligned else detect_and_align(image, face_finder, min_face)
                if len(batch) == 0:
                    batch, error = None, NO_FACE_REASON
            except InputError as failure:
                error = failure.reason
        pending.append((path, batch, error))
        pending_faces += len(batch) if batch is not None else 0
        if pending_faces >= SCORE_BATCH:
            yield from _score_pending(pending, scorer, reader, aligned)
            pending, pending_faces = [], 0
    yield from _score_pending(pending, scorer, reader, aligned)


def _aligned_batch(path: str, image: np.ndarray) -> FaceBatch:
    height, width = image.shape[:2]
    if height != width:
        raise InputError(path, f"--aligned expects a square ArcFace crop, got {width}x{height}")
    if height != ALIGNED_SIZE:
        image = cv2.resize(image, (ALIGNED_SIZE, ALIGNED_SIZE), interpolation=cv2.INTER_AREA)
    return FaceBatch.from_crops(image[None])


def _score_pending(pending, scorer: Scorer, reader: FaceParts | None, aligned: bool) -> Iterator[dict]:
    batches = [b for _, b, _ in pending if b is not None]
    readings: dict = {}
    if batches:
        faces = FaceBatch.concat(batches)
        qualities = iter(scorer.score(faces).tolist())
        if reader:
            parts = vars(reader.read(faces))
            readings = {name: iter(values.tolist()) for name, values in parts.items() if values is not None}
    for path, batch, error in pending:
        if batch is None:
            yield {"path": path, "error": error}
            continue
        for i in range(len(batch)):
            record = {"path": path, "face": i, "quality": round(next(qualities), 4), "scorer": scorer.name}
            for name, values in readings.items():
                record[name] = round(next(values), 4 if name == "eyes_open" else 3)
            if not aligned:
                record["bbox"] = [round(float(v), 1) for v in batch.boxes[i]]
                record["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in batch.landmarks[i]]
                record["det_score"] = round(float(batch.det_scores[i]), 4)
            yield record
