"""The Python API, what the command is built on: `select` one input, `run_batch` many, `score_images` and
`score_crops` for faces without choosing among them."""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from .decode import read_image
from .decode.readahead import PREFETCH_BYTES
from .errors import NO_FACE_REASON, InputError
from .faces import ALIGNED_SIZE, FaceBatch, detect_and_align
from .faces.detect import load_detector
from .options import DEFAULT_MAX_SIDE, DEFAULT_THRESHOLD, Options
from .quality import Scorer, load_scorer
from .quality.eyes import EyeOpenness, eye_model_installed
from .records import InputResult
from .run.batch import Local, Ray, Workers, run_batch, select_many  # noqa: F401 (the public API)
from .run.job import process_input

SCORE_BATCH = 256  # faces per quality-network call in `score_images`
READ_AHEAD = 64  # images decoded ahead on a thread pool (cv2 releases the GIL while decoding), and at most
READ_AHEAD_BYTES = PREFETCH_BYTES  # this much of them: a few huge images must not take gigabytes
DECODERS = 2  # images decoded at once


def select(path: str, **options) -> InputResult:
    """The best faces of one video, image or image folder. Keyword options are those of `Options`.

    Raises InputError (with the input and the reason) when the input cannot be read or has no face;
    UsageError for bad options or missing models. A partly readable input returns its picks with
    `warnings`. For many inputs, `run_batch` and `select_many` report each input's status instead."""
    result = process_input(path, Options(**options))
    if result.status in ("failed", "no_face"):
        raise InputError(path, result.error or result.status)
    return result


def score_crops(crops: np.ndarray, scorer: str | Scorer = "auto") -> np.ndarray:
    """Qualities of (N, 112, 112, 3) BGR ArcFace-aligned crops."""
    scorer = load_scorer(scorer) if isinstance(scorer, str) else scorer
    return scorer.score(FaceBatch.from_crops(crops))


def score_images(
    paths: Iterable[str],
    aligned: bool = False,
    scorer: str | Scorer = "auto",
    detector: str = "retinaface",
    model_pack: str | None = None,
    min_face: int = 0,
    det_size: int = DEFAULT_MAX_SIDE,
    det_threshold: float = DEFAULT_THRESHOLD,
    eyes: bool = True,
) -> Iterator[dict]:
    """One record per face, in input order: {path, face, quality, [eyes_open], scorer, [bbox, landmarks,
    det_score]}; an unreadable image or one with no face gives {path, error}. Faces are scored in large
    batches; `eyes` adds the openness of each face's more closed eye (fqselect.eyes)."""
    scorer = load_scorer(scorer) if isinstance(scorer, str) else scorer
    eye_model = EyeOpenness() if eyes and eye_model_installed() else None
    face_finder = None if aligned else load_detector(detector, model_pack, max_side=det_size, threshold=det_threshold)
    pending: list[tuple[str, FaceBatch | None, str | None]] = []
    pending_faces = 0
    for path, image, error in _read_ahead(paths):
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
            yield from _score_pending(pending, scorer, eye_model, aligned)
            pending, pending_faces = [], 0
    yield from _score_pending(pending, scorer, eye_model, aligned)


def _read_ahead(paths: Iterable[str]) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    def load(path: str):
        try:
            return path, read_image(path), None
        except InputError as error:
            return path, None, error.reason

    from concurrent.futures import (
        ThreadPoolExecutor,  # imported here, as for the process pool
    )

    def held(window: list) -> int:  # bytes of decoded images waiting to be used
        return sum(f.result()[1].nbytes for f in window if f.done() and f.result()[1] is not None)

    from concurrent.futures import FIRST_COMPLETED, wait

    with ThreadPoolExecutor(max_workers=DECODERS) as pool:
        window: list = []
        for path in paths:
            while window:  # room for one more: a decoder free, and few enough images held
                busy = [f for f in window if not f.done()]
                if len(busy) >= DECODERS:
                    wait(busy, return_when=FIRST_COMPLETED)
                elif len(window) >= READ_AHEAD or held(window) >= READ_AHEAD_BYTES:
                    yield window.pop(0).result()
                else:
                    break
            window.append(pool.submit(load, path))
        for future in window:
            yield future.result()


def _aligned_batch(path: str, image: np.ndarray) -> FaceBatch:
    height, width = image.shape[:2]
    if height != width:
        raise InputError(path, f"--aligned expects a square ArcFace crop, got {width}x{height}")
    if height != ALIGNED_SIZE:
        image = cv2.resize(image, (ALIGNED_SIZE, ALIGNED_SIZE), interpolation=cv2.INTER_AREA)
    return FaceBatch.from_crops(image[None])


def _score_pending(pending, scorer: Scorer, eye_model: EyeOpenness | None, aligned: bool) -> Iterator[dict]:
    batches = [b for _, b, _ in pending if b is not None]
    if batches:
        faces = FaceBatch.concat(batches)
        qualities = iter(scorer.score(faces).tolist())
        openness = iter(eye_model.score(faces).tolist() if eye_model else [])
    for path, batch, error in pending:
        if batch is None:
            yield {"path": path, "error": error}
            continue
        for i in range(len(batch)):
            record = {"path": path, "face": i, "quality": round(next(qualities), 4), "scorer": scorer.name}
            if eye_model:
                record["eyes_open"] = round(next(openness), 4)
            if not aligned:
                record["bbox"] = [round(float(v), 1) for v in batch.boxes[i]]
                record["landmarks"] = [[round(float(x), 2), round(float(y), 2)] for x, y in batch.landmarks[i]]
                record["det_score"] = round(float(batch.det_scores[i]), 4)
            yield record
