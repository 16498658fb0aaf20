"""Identity-labelled face sets (`<identity>/<images>` folders) aligned and embedded once, then cached.

Training labels and the evaluation harness both start here: every image's most central face is detected,
aligned to the ArcFace crop and embedded by the recogniser; the arrays are saved as one .npz per
(dataset, people list, recogniser), so re-training and re-scoring never recompute them.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..decode import IMAGE_SUFFIXES, read_image
from ..errors import InputError, UsageError
from ..models import cache_dir

DEFAULT_CACHE = cache_dir()
CHUNK = 64  # images per worker task
ARRAY_FIELDS = ("paths", "identities", "crops", "embeddings", "landmarks", "boxes", "det_scores")


@dataclass
class FaceSet:
    """N aligned faces with identities and embeddings (arrays aligned on the first axis)."""

    paths: np.ndarray  # (N,) str, image paths
    identities: np.ndarray  # (N,) str
    crops: np.ndarray  # (N, 112, 112, 3) uint8 BGR
    embeddings: np.ndarray  # (N, D) float32, unit length
    landmarks: np.ndarray  # (N, 5, 2) float32, source pixels
    boxes: np.ndarray  # (N, 4) float32
    det_scores: np.ndarray  # (N,) float32
    recognizer: str = ""
    missed: int = 0  # images where no face was found (left out)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, keep: np.ndarray) -> "FaceSet":
        arrays = {k: getattr(self, k)[keep] for k in ARRAY_FIELDS}
        return FaceSet(**arrays, recognizer=self.recognizer, missed=self.missed)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **{k: getattr(self, k) for k in ARRAY_FIELDS},
                 recognizer=self.recognizer, missed=self.missed)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "FaceSet":
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in ARRAY_FIELDS}
            return cls(**fields, recognizer=str(data["recognizer"]), missed=int(data["missed"]))


def read_people(path: str | Path | None) -> set[str] | None:
    """Names from an LFW people list (`peopleDevTest.txt`: a count line, then `name<TAB>count`), or any
    file with one name per line; None when no list is given."""
    if path is None:
        return None
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    lfw_format = any("\t" in line for line in lines)
    if lfw_format and lines and lines[0].strip().isdigit():
        lines = lines[1:]  # LFW's first line counts the people
    names = {line.split("\t")[0].strip() for line in lines}
    if not names:
        raise UsageError(f"{path}: the people list is empty")
    return names


def scan(root: str | Path, people: set[str] | None = None, min_images: int = 2) -> list[tuple[str, str]]:
    """(identity, image path) for every identity folder with at least min_images images."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: dataset folder not found (expected <identity>/<images>)")
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if people is not None and folder.name not in people:
            continue
        images = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(images) >= min_images:
            items.extend((folder.name, image) for image in images)
    if not items:
        raise UsageError(f"{root}: no identity folder with {min_images}+ images" + (" in the people list" if people else ""))
    return items


def cache_path(root: str | Path, people: set[str] | None, recognizer: str, cache: Path = DEFAULT_CACHE) -> Path:
    selection = "all" if people is None else ",".join(sorted(people))
    key = hashlib.sha1(f"{Path(root).resolve()}|{selection}|{recognizer}".encode()).hexdigest()[:12]
    return cache / f"faces-{Path(root).name}-{recognizer.replace(':', '_').replace('/', '_')}-{key}.npz"


def load_face_set(root: str | Path, people: set[str] | None = None, model_pack: str | None = None,
                  cache: Path = DEFAULT_CACHE, workers: int = 2,
                  progress: Callable[[int, int], None] | None = None, recognizer: str = "sface") -> FaceSet:
    """The dataset's faces, from the cache or computed (detect, align, embed with SFace) in `workers`
    processes. Another recogniser (`arcface` with a model pack, `dlib`) re-embeds the same aligned
    crops, so every recogniser sees exactly the same faces."""
    if recognizer != "sface":
        tag = f"arcface:{Path(model_pack).name}" if recognizer == "arcface" else recognizer
        path = cache_path(root, people, tag, cache)
        if path.is_file():
            return FaceSet.load(path)
        faces = load_face_set(root, people, None, cache, workers, progress)
        faces.embeddings = _embed_crops(faces.crops, recognizer, model_pack, workers)
        faces.recognizer = tag
        faces.save(path)
        return faces
    path = cache_path(root, people, "sface", cache)
    if path.is_file():
        return FaceSet.load(path)
    items = scan(root, people)
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    parts = []
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(None,)) as pool:
        for done, part in enumerate(pool.map(_embed_chunk, chunks), start=1):
            parts.append(part)
            if progress:
                progress(min(done * CHUNK, len(items)), len(items))
    faces = _concat(parts, "sface", missed=len(items) - sum(len(p["paths"]) for p in parts))
    faces.save(path)
    return faces


_worker: dict = {}


def _init_worker(model_pack: str | None, recognizer: str | None = None, detect: bool = True) -> None:
    os.environ.setdefault("FQSELECT_THREADS", "1")
    from ..detect import RetinaFaceDetector
    from ..embed import load_recognizer

    if detect:
        _worker["detector"] = RetinaFaceDetector(threshold=0.3)  # datasets: find the face even when it is poor
    _worker["recognizer"] = load_recognizer(model_pack, recognizer)


def _embed_crops(crops: np.ndarray, recognizer: str, model_pack: str | None, workers: int) -> np.ndarray:
    chunks = [crops[i : i + CHUNK] for i in range(0, len(crops), CHUNK)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(model_pack, recognizer, False)) as pool:
        return np.concatenate(list(pool.map(_worker_embed, chunks))).astype(np.float32)


def _worker_embed(crops: np.ndarray) -> np.ndarray:
    return _worker["recognizer"].embed(crops)


def _embed_chunk(chunk: Sequence[tuple[str, str]]) -> dict:
    from ..align import align_faces

    rows: dict[str, list] = {k: [] for k in ARRAY_FIELDS if k != "embeddings"}
    for identity, image_path in chunk:
        try:
            image = read_image(image_path)
        except InputError:
            continue
        detections = _worker["detector"].detect(image)
        if not len(detections):
            continue
        i = central_face(detections.boxes, image.shape)
        rows["paths"].append(image_path)
        rows["identities"].append(identity)
        rows["crops"].append(align_faces(image, detections.landmarks[i : i + 1])[0])
        rows["landmarks"].append(detections.landmarks[i])
        rows["boxes"].append(detections.boxes[i])
        rows["det_scores"].append(detections.det_scores[i])
    crops = np.stack(rows["crops"]) if rows["crops"] else np.zeros((0, 112, 112, 3), np.uint8)
    rows["embeddings"] = _worker["recognizer"].embed(crops) if len(crops) else np.zeros((0, 128), np.float32)
    rows["crops"] = crops
    return rows


def central_face(boxes: np.ndarray, shape: tuple[int, ...]) -> int:
    """The labelled person in a dataset image: the face nearest the centre, larger faces preferred."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    distance = np.linalg.norm(centres - np.array([shape[1], shape[0]]) / 2, axis=1)
    size = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
    return int(np.argmin(distance - 0.5 * size))


def _concat(parts: list[dict], recognizer: str, missed: int) -> FaceSet:
    def join(key, empty):
        arrays = [np.asarray(p[key]) for p in parts if len(p[key])]
        return np.concatenate(arrays) if arrays else empty

    return FaceSet(
        paths=join("paths", np.zeros(0, str)),
        identities=join("identities", np.zeros(0, str)),
        crops=join("crops", np.zeros((0, 112, 112, 3), np.uint8)),
        embeddings=join("embeddings", np.zeros((0, 128), np.float32)).astype(np.float32),
        landmarks=join("landmarks", np.zeros((0, 5, 2), np.float32)).astype(np.float32),
        boxes=join("boxes", np.zeros((0, 4), np.float32)).astype(np.float32),
        det_scores=join("det_scores", np.zeros(0, np.float32)).astype(np.float32),
        recognizer=recognizer,
        missed=missed,
    )
