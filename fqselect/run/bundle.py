"""The models one option set needs (`ModelBundle`: detector, quality scorer, eye network, and the recogniser
when something embeds faces), loaded once per process and reused for every input."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..choose.gallery import Gallery
from ..cores import idle_priority
from ..decode import folder_images, read_image
from ..errors import InputError, UsageError
from ..faces import detect_and_align
from ..faces.detect import check_detector, load_detector
from ..faces.recognize import check_recognizer, load_recognizer, quality_weighted_mean
from ..options import Options
from ..quality import Scorer, load_scorer, scorer_name
from ..quality.eyes import check_eye_model
from ..quality.mouth import check_mesh_model
from ..quality.parts import FaceParts, parts_installed
from ..zoo.files import model_pack_dir


@dataclass
class ModelBundle:
    detector: object
    scorer: Scorer
    model_pack: str | None
    parts: FaceParts | Deferred | None = None  # eyes and mouth; None: neither model is installed
    _galleries: dict = field(default_factory=dict)

    @property
    def recognizer(self):
        return recognizer_soon(self.model_pack).model  # loaded by the first input that embeds a face

    def recognizer_soon(self) -> "Deferred":
        """The recogniser, loading on a background thread: an input's set ranking embeds faces only when
        overlap cannot link them or at the end, so its first frames need not wait for the load."""
        return recognizer_soon(self.model_pack)

    def gallery(self, folder: str, threshold: float | None = None) -> Gallery:
        if (folder, threshold) not in self._galleries:
            self._galleries[folder, threshold] = read_gallery(Path(folder), self.detector, self.recognizer, threshold)
        return self._galleries[folder, threshold]


class Deferred:
    """A model being loaded on a background thread; `model` and its attributes wait for the load (and
    raise what it raised). `idle`: the thread loads on idle cycles only (`cores.idle_priority`), so that
    it does not slow the stream; whoever waits for it leaves a core idle, so waiting does not starve it."""

    def __init__(self, load, idle: bool = False):
        self._model, self._error = None, None
        self._thread = threading.Thread(target=self._load, args=(load, idle), name="fqselect-load", daemon=True)
        self._thread.start()

    def _load(self, load, idle: bool) -> None:
        if idle:
            idle_priority()
        try:
            self._model = load()
        except BaseException as error:  # raised again where the model is first used
            self._error = error

    @property
    def model(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._model

    def __getattr__(self, name: str):
        return getattr(self.model, name)


@lru_cache(maxsize=4)
def recognizer_soon(model_pack: str | None) -> Deferred:
    """The recogniser of a model pack (None: the default), loading on a background thread from the first
    call, once per process. It takes longer to load than the other models together, so an input whose
    sets will be ranked starts it before them (`run.job`)."""
    return Deferred(lambda: load_recognizer(model_pack), idle=True)


def read_gallery(folder: Path, detector, recognizer, threshold: float | None = None) -> Gallery:
    """Known people from `folder/<name>/<images>`: one template a name, the mean of its images' largest
    faces. UsageError when the folder is missing or holds no usable face."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: gallery folder not found (expected <name>/<images>)")
    names, templates = [], []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        crops = []
        for image_path in folder_images(person):
            try:
                faces = detect_and_align(read_image(image_path), detector)
            except InputError:
                continue
            if len(faces):
                crops.append(faces.crops[int(np.argmax(np.prod(faces.boxes[:, 2:] - faces.boxes[:, :2], axis=1)))])
        if crops:
            names.append(person.name)
            templates.append(quality_weighted_mean(recognizer.embed(np.stack(crops)), np.ones(len(crops))))
    if not names:
        raise UsageError(f"{folder}: no face found in any <name>/<images> folder of the gallery")
    return Gallery(names, np.stack(templates), recognizer.points["match"] if threshold is None else threshold)


@lru_cache(maxsize=4)
def load_models(detector: str, det_size: int, det_threshold: float, scorer: str, model_pack: str | None) -> ModelBundle:
    """ModelBundle for one option set, created once per process and reused for every input."""
    return ModelBundle(
        load_detector(detector, model_pack, max_side=det_size, threshold=det_threshold),
        load_scorer(scorer),
        model_pack,
        # loading on idle cycles: the parts are read only at the end of an input, or by choose/ahead.py's idle thread
        Deferred(FaceParts, idle=True) if parts_installed() else None,
    )


def models_for(options: Options) -> ModelBundle:
    return load_models(options.detector, options.det_size, options.det_threshold, options.scorer, options.model_pack)


def check_models(options: Options) -> str:
    """Fail fast on models that cannot be found (unknown names, missing packs or files, a recogniser that
    --embeddings or --per-person will need, a missing gallery) without loading them, so the first input
    can start decoding while they load; a --gallery is built here, so one with no usable face is a usage
    error before any input runs. The quality scorer's name."""
    check_detector(options.detector, options.model_pack)
    if options.eyes == "open":  # "prefer" ranks by quality alone where the eye network is not installed
        check_eye_model()
    if options.mouth == "closed":
        check_mesh_model()
    if options.model_pack:
        model_pack_dir(options.model_pack)
    if options.embeddings or options.per_person or options.scorer == "auto":  # auto ranks sets with it
        check_recognizer(options.model_pack)
    if options.gallery and not Path(options.gallery).is_dir():
        raise UsageError(f"{options.gallery}: gallery folder not found (expected <name>/<images>)")
    if options.gallery:
        models_for(options).gallery(options.gallery, options.match_threshold)
    return scorer_name(options.scorer)


def worker_models(options: Options) -> ModelBundle:
    """The models of a worker process (a batch's, a Ray actor's): loaded once, one onnxruntime thread a
    session, as the workers already share the cores between them."""
    os.environ["FQSELECT_THREADS"] = "1"
    return models_for(options)
