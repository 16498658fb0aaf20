"""Training faces as the pipeline sees them: each source image (clean, or degraded *before* detection)
goes through detection, alignment and the recogniser, so a degraded face carries the landmark error and
resolution loss it would have in video, and its label comes from its own embedding.

The data sets differ only in how an image becomes a frame the detector handles well:
- `glint` images are already 112×112 ArcFace crops: a replicated border gives the detector a whole head;
- `celeba-aligned` images are 89×109 with small faces: they are upsampled 2× (after degradation, so the
  damage happens at the source resolution).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..decode import read_image
from ..errors import InputError
from ..faces.batch import eye_distance
from .dataset import (
    ARRAY_FIELDS,
    DEFAULT_CACHE,
    FaceSet,
    _concat,
    cache_path,
    central_face,
    scan,
)
from .degrade import (
    close_eyes,
    crop_occlusion,
    jpeg,
    resolution_factor,
    shut_eyes,
    source_degradation,
)

OCCLUDED_SHARE = 0.15  # of degraded copies: an occluder is painted on the aligned crop before embedding

CHUNK = 64


@dataclass(frozen=True)
class Source:
    """One identity-labelled image set and how its images are turned into detector input."""

    name: str
    root: Path
    people: frozenset[str] | None = None
    pad: int = 0  # replicated border (px) around each image before detection
    upsample: float = 1.0  # resize factor before detection, applied after degradation

    def frame(self, image: np.ndarray) -> np.ndarray:
        if self.upsample != 1.0:
            image = cv2.resize(image, None, fx=self.upsample, fy=self.upsample, interpolation=cv2.INTER_CUBIC)
        if self.pad:
            image = cv2.copyMakeBorder(image, self.pad, self.pad, self.pad, self.pad, cv2.BORDER_REPLICATE)
        return image


def standard_sources(data: Path, lfw_people: set[str] | None) -> dict[str, Source]:
    """The four training sets of ../shared/data (LFW restricted to `lfw_people`)."""
    return {
        "lfw": Source("lfw", data / "lfw" / "images", frozenset(lfw_people) if lfw_people else None),
        "celeba": Source("celeba", data / "celeba" / "images"),
        "glint": Source("glint", data / "glint" / "images", pad=56),
        "celeba-aligned": Source("celeba-aligned", data / "celeba-aligned" / "images", upsample=2.0),
    }


def source_faces(source: Source, copy: int = 0, seed: int = 0, cache: Path = DEFAULT_CACHE, workers: int = 2,
                 progress: Callable[[int, int], None] | None = None) -> FaceSet:
    """The set's faces, detected, aligned and embedded with SFace: copy 0 from the clean images, copy
    k ≥ 1 from a random source degradation of every image (seeded by seed, k and the image). Cached."""
    key = _key(source, f"{copy}|{seed}")
    path = cache / f"source-{source.name}-c{copy}-{key}.npz"
    if path.is_file():
        return FaceSet.load(path)
    items = scan(source.root, set(source.people) if source.people else None)
    chunks = [(source, items[i : i + CHUNK], copy, seed) for i in range(0, len(items), CHUNK)]
    parts = []
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        for done, part in enumerate(pool.map(_faces_of_chunk, chunks), start=1):
            parts.append(part)
            if progress:
                progress(min(done * CHUNK, len(items)), len(items))
    faces = _concat(parts, "sface", missed=len(items) - sum(len(p["paths"]) for p in parts))
    faces.save(path)
    return faces


def degradation_rng(image_path: str, copy: int, seed: int) -> np.random.Generator:
    """The generator that degrades one image's copy `copy`: the same in every process and run."""
    digest = hashlib.sha1(f"{image_path}|{copy}|{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def face_resolution(faces: FaceSet, copy: int = 0, seed: int = 0) -> np.ndarray:
    """(N,) how many source pixels apart each face's eyes really were: the landmarks' eye distance,
    times the resolution a degraded copy kept (replayed from its generator; its landmarks are in the
    pixels of the image scaled back up). What the pipeline knows of a face in a frame, and what the
    scale-aware networks take beside the crop."""
    distance = eye_distance(faces.landmarks)
    if copy:
        distance = distance * np.array([resolution_factor(degradation_rng(str(p), copy, seed)) for p in faces.paths])
    return distance.astype(np.float32)


def load_face_set(root: str | Path, people: set[str] | None = None, model_pack: str | None = None,
                  cache: Path = DEFAULT_CACHE, workers: int = 2,
                  progress: Callable[[int, int], None] | None = None, recognizer: str = "sface") -> FaceSet:
    """An evaluation set's faces (`<identity>/<images>`, identities with 2+ images, optionally only
    `people`), detected, aligned and embedded with SFace as the training faces are, cached. Another
    recogniser (`arcface` with a model pack, `dlib`) re-embeds the same aligned crops, so every
    recogniser sees exactly the same faces."""
    faces = source_faces(Source(Path(root).name, Path(root), frozenset(people) if people else None), 0, 0,
                         cache, workers, progress)
    if recognizer == "sface":
        return faces
    tag = f"arcface:{Path(model_pack).name}" if recognizer == "arcface" else recognizer
    path = cache_path(root, people, tag, cache)
    if path.is_file():
        return FaceSet.load(path)
    faces.embeddings = _map_crops(_embed_crops, faces.crops, workers, recognizer, model_pack)
    faces.recognizer = tag
    faces.save(path)
    return faces


# How a closed eye is made: "paint" covers it with cheek-coloured skin (degrade.close_eyes), "lids"
# stretches the face's own upper lid over it (degrade.shut_eyes). The cache names keep v3's "eyes".
EYE_STYLES = {"paint": ("eyes", close_eyes), "lids": ("lids", shut_eyes)}


def closed_eye_faces(source: Source, seed: int = 0, cache: Path = DEFAULT_CACHE, workers: int = 2,
                     style: str = "paint") -> FaceSet:
    """The clean faces with a blink or a wink on them (EYE_STYLES), re-embedded: eye openness is what
    LFW and CelebA hardly show, and what an enrollment user looks at first. Cached."""
    variant, close = EYE_STYLES[style]
    return _crop_variant(source, variant, lambda c, rng: close(c, [0, 1] if rng.random() < 0.5 else [int(rng.integers(2))], rng),
                         seed, cache, workers)


def blocky_faces(source: Source, seed: int = 0, cache: Path = DEFAULT_CACHE, workers: int = 2) -> FaceSet:
    """The clean faces compressed hard at full resolution (JPEG quality 3-15 on the aligned crop),
    re-embedded. The source degradations mostly compress after a downscale, so their blocks come back
    smoothed; sharp 8-pixel blocks on a large face read as detail to a network that never saw them (the
    bundled example's JPEG segment outscored its clean one). Cached."""
    return _crop_variant(source, "jpeg", lambda c, rng: jpeg(c, int(rng.integers(3, 16))), seed, cache, workers)


def _crop_variant(source: Source, variant: str, change, seed: int, cache: Path, workers: int) -> FaceSet:
    """The clean faces with `change(crop, rng)` applied to each aligned crop, re-embedded, cached."""
    clean = source_faces(source, 0, seed, cache, workers)
    key = _key(source, f"{variant}|{seed}")
    path = cache / f"source-{source.name}-{variant}-{key}.npz"
    if path.is_file():
        return FaceSet.load(path)
    rng = np.random.default_rng(seed)
    faces = clean.subset(np.arange(len(clean)))
    faces.crops = np.stack([change(c, rng) for c in clean.crops])
    faces.embeddings, faces.norms = _embeddings_and_norms(_map_crops(_features_of_crops, faces.crops, workers))
    faces.save(path)
    return faces


def with_norms(faces: FaceSet, workers: int = 2, log=None, mirrored: bool = False) -> FaceSet:
    """Cached faces with their SFace feature lengths (and, if `mirrored`, those of their mirrored crops):
    what a cache written before they were kept lacks is measured once (SFace on every crop: ~1.5
    minutes per 10,000 faces on two cores) and saved back."""
    wanted = {"norms": faces.crops, **({"mirror_norms": faces.crops[:, :, ::-1]} if mirrored else {})}
    missing = {field: crops for field, crops in wanted.items() if getattr(faces, field) is None and len(faces)}
    for field, crops in missing.items():
        if log:
            log(f"{faces.path.name}: measuring SFace feature lengths ({field}) of {len(faces)} cached faces (once)")
        setattr(faces, field, _embeddings_and_norms(_map_crops(_features_of_crops, np.ascontiguousarray(crops), workers))[1])
    if missing:
        faces.save(faces.path)
    return faces


def _map_crops(task, crops: np.ndarray, workers: int, recognizer: str = "sface", model_pack: str | None = None) -> np.ndarray:
    """`task` (_embed_crops, _features_of_crops) over the crops in chunks, in worker processes that hold
    the recogniser (no detector)."""
    chunks = [crops[i : i + CHUNK] for i in range(0, len(crops), CHUNK)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(False, recognizer, model_pack)) as pool:
        return np.concatenate(list(pool.map(task, chunks))).astype(np.float32)


def _embeddings_and_norms(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SFace's features as unit embeddings and their lengths (FaceSet.embeddings, FaceSet.norms)."""
    norms = np.linalg.norm(features, axis=1).astype(np.float32)
    return (features / np.maximum(norms[:, None], 1e-12)).astype(np.float32), norms


def _key(source: Source, variant: str) -> str:
    """A cache key that is the same in every process (a frozenset's repr is not: string hashing is salted)."""
    people = "all" if source.people is None else ",".join(sorted(source.people))
    text = f"{source.name}|{Path(source.root).resolve()}|{source.pad}|{source.upsample}|{people}|{variant}|v1"
    return hashlib.sha1(text.encode()).hexdigest()[:12]


_worker: dict = {}


def _embed_crops(crops: np.ndarray) -> np.ndarray:
    return _worker["recognizer"].embed(crops)


def _features_of_crops(crops: np.ndarray) -> np.ndarray:
    return _worker["recognizer"].features(crops)


def _init_worker(detect: bool = True, recognizer: str = "sface", model_pack: str | None = None) -> None:
    os.environ.setdefault("FQSELECT_THREADS", "1")
    from ..faces.recognize import load_recognizer
    from ..faces.retinaface import RetinaFaceDetector

    if detect:
        _worker["detector"] = RetinaFaceDetector(threshold=0.3)  # find the face even when it is poor
    _worker["recognizer"] = load_recognizer(model_pack, recognizer)


def _faces_of_chunk(task: tuple[Source, list[tuple[str, str]], int, int]) -> dict:
    from ..faces.align import align_faces

    source, chunk, copy, seed = task
    rows: dict[str, list] = {k: [] for k in ARRAY_FIELDS if k != "embeddings"}
    for identity, image_path in chunk:
        try:
            image = read_image(image_path)
        except InputError:
            continue
        rng = None
        if copy:
            rng = degradation_rng(image_path, copy, seed)
            image = source_degradation(image, rng)
        frame = source.frame(image)
        detections = _worker["detector"].detect(frame)
        if not len(detections):
            continue
        i = central_face(detections.boxes, frame.shape)
        # Landmarks and boxes in the source image's own pixels, as the pipeline reports them.
        back = np.array([source.pad, source.pad], np.float32)
        rows["paths"].append(image_path)
        rows["identities"].append(identity)
        crop = align_faces(frame, detections.landmarks[i : i + 1])[0]
        if rng is not None and rng.random() < OCCLUDED_SHARE:
            crop = crop_occlusion(crop, rng)
        rows["crops"].append(crop)
        rows["landmarks"].append((detections.landmarks[i] - back) / source.upsample)
        rows["boxes"].append((detections.boxes[i] - np.tile(back, 2)) / source.upsample)
        rows["det_scores"].append(detections.det_scores[i])
    crops = np.stack(rows["crops"]) if rows["crops"] else np.zeros((0, 112, 112, 3), np.uint8)
    features = _worker["recognizer"].features(crops) if len(crops) else np.zeros((0, 128), np.float32)
    rows["embeddings"], rows["norms"] = _embeddings_and_norms(features)
    rows["crops"] = crops
    return rows
