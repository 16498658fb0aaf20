"""Identity-labelled face sets (`<identity>/<images>` folders): the `FaceSet` arrays, the folder scan
and people lists. `sources.py` fills them (detect, align, embed once, cached), for training and for
evaluation alike."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..decode import IMAGE_SUFFIXES
from ..errors import UsageError
from ..zoo.files import cache_dir

DEFAULT_CACHE = cache_dir()
ARRAY_FIELDS = ("paths", "identities", "crops", "embeddings", "landmarks", "boxes", "det_scores")
OPTIONAL_CACHED = ("norms", "mirror_norms")  # per-face arrays that older caches lack


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
    # (N,) effective eye distance in source pixels (sources.face_resolution); not cached, set by the caller
    resolution: np.ndarray | None = None
    # (N,) length of the recogniser's feature before it is normalised (sources: SFace's); caches written
    # before it was kept have none until `sources.with_norms` fills it in
    norms: np.ndarray | None = None
    mirror_norms: np.ndarray | None = None  # (N,) the same for the mirrored crop (`sources.with_norms`)
    path: Path | None = None  # the cache file it was loaded from or saved to (sources.with_norms saves there)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, keep: np.ndarray) -> "FaceSet":
        arrays = {k: getattr(self, k)[keep] for k in ARRAY_FIELDS}
        optional = {k: None if getattr(self, k) is None else getattr(self, k)[keep] for k in ("resolution", *OPTIONAL_CACHED)}
        return FaceSet(**arrays, recognizer=self.recognizer, missed=self.missed, **optional)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        optional = {k: getattr(self, k) for k in OPTIONAL_CACHED if getattr(self, k) is not None}
        np.savez(tmp, **{k: getattr(self, k) for k in ARRAY_FIELDS}, **optional,
                 recognizer=self.recognizer, missed=self.missed)
        tmp.replace(path)
        self.path = path

    @classmethod
    def load(cls, path: Path) -> "FaceSet":
        with np.load(path, allow_pickle=False) as data:
            fields = {k: data[k] for k in ARRAY_FIELDS}
            optional = {k: data[k] if k in data.files else None for k in OPTIONAL_CACHED}
            return cls(**fields, recognizer=str(data["recognizer"]), missed=int(data["missed"]), **optional, path=path)


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
        norms=join("norms", np.zeros(0, np.float32)).astype(np.float32),
    )
