"""The models one option set needs (`Models`: detector, quality scorer, eye network, and the recogniser
when something embeds faces), loaded once per process and reused for every input."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..choose.gallery import Gallery
from ..errors import UsageError
from ..faces.detect import check_detector, load_detector
from ..faces.recognize import check_recognizer, load_recognizer
from ..options import Options
from ..quality import Scorer, load_scorer, scorer_name
from ..quality.eyes import EyeOpenness, check_eye_model, eye_model_installed
from ..zoo.files import model_pack_dir


@dataclass
class Models:
    detector: object
    scorer: Scorer
    model_pack: str | None
    eyes: EyeOpenness | None = None  # None: the eye network is not installed
    _recognizer: object = None
    _galleries: dict = field(default_factory=dict)

    @property
    def recognizer(self):
        if self._recognizer is None:  # loaded by the first input that embeds a face
            self._recognizer = load_recognizer(self.model_pack)
        return self._recognizer

    def gallery(self, folder: str, threshold: float | None = None) -> Gallery:
        if (folder, threshold) not in self._galleries:
            self._galleries[folder, threshold] = Gallery(folder, self.detector, self.recognizer, threshold)
        return self._galleries[folder, threshold]


@lru_cache(maxsize=4)
def load_models(detector: str, det_size: int, det_threshold: float, scorer: str, model_pack: str | None) -> Models:
    """Models for one option set, created once per process and reused for every input."""
    return Models(
        load_detector(detector, model_pack, max_side=det_size, threshold=det_threshold),
        load_scorer(scorer),
        model_pack,
        EyeOpenness() if eye_model_installed() else None,
    )


def models_for(options: Options) -> Models:
    return load_models(options.detector, options.det_size, options.det_threshold, options.scorer, options.model_pack)


def check_models(options: Options) -> str:
    """Fail fast on models that cannot be found (unknown names, missing packs or files, a recogniser that
    --embeddings or --per-person will need, a missing gallery) without loading them, so the first input
    can start decoding while they load; a --gallery is built here, so one with no usable face is a usage
    error before any input runs. The quality scorer's name."""
    check_detector(options.detector, options.model_pack)
    if options.eyes == "open":  # "prefer" ranks by quality alone where the eye network is not installed
        check_eye_model()
    if options.model_pack:
        model_pack_dir(options.model_pack)
    if options.embeddings or options.per_person:
        check_recognizer(options.model_pack)
    if options.gallery and not Path(options.gallery).is_dir():
        raise UsageError(f"{options.gallery}: gallery folder not found (expected <name>/<images>)")
    if options.gallery:
        models_for(options).gallery(options.gallery, options.match_threshold)
    return scorer_name(options.scorer)


def worker_models(options: Options) -> Models:
    """The models of a worker process (a batch's, a Ray actor's): loaded once, one onnxruntime thread a
    session, as the workers already share the cores between them."""
    os.environ["FQSELECT_THREADS"] = "1"
    return models_for(options)
