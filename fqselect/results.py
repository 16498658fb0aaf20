"""What a run is asked for and what it gives back: `Options` (everything that decides a result, with
the defaults the CLI and the API share) and `InputResult` with its `Pick`s (one JSON record each)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Callable

import numpy as np

from .decode import Sampling
from .defaults import (DEFAULT_DETECTOR, DEFAULT_EYES, DEFAULT_MAX_SIDE, DEFAULT_MIN_GAP, DEFAULT_SCORER,
                       DEFAULT_THRESHOLD, DEFAULT_TOP, DEFAULT_WINDOW, EYES_MODES)
from .errors import UsageError

KEYFRAMES_PER_WINDOW = 2  # --keyframes decodes at most this many keyframes a --window (Options.sampling)

if TYPE_CHECKING:
    from .persons import Person



@dataclass(frozen=True)
class Options:
    """Everything that decides a result. Hashable, so workers can cache models per option set."""

    top: int = DEFAULT_TOP
    min_quality: float = 0.0
    min_gap: float = DEFAULT_MIN_GAP
    min_face: int = 0
    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    start: float = 0.0
    end: float | None = None
    detector: str = DEFAULT_DETECTOR
    det_size: int = DEFAULT_MAX_SIDE
    det_threshold: float = DEFAULT_THRESHOLD
    scorer: str = DEFAULT_SCORER
    eyes: str = DEFAULT_EYES  # "prefer": open eyes break near-ties; "open": quality × eye openness; "any": quality
    model_pack: str | None = None
    embeddings: bool = False
    exhaustive: bool = False  # analyse every sampled frame instead of the sharpest of each window
    keyframes: bool = False  # decode keyframes only (lossy; huge archives)
    window: float = DEFAULT_WINDOW
    per_person: bool = False
    gallery: str | None = None  # <name>/<images> folder; implies per_person
    match_threshold: float | None = None  # gallery names need this cosine; None: the recogniser's FMR 1e-3 point

    def __post_init__(self):
        if self.eyes not in EYES_MODES:  # a typo would otherwise rank by quality without a word
            raise UsageError(f"--eyes {self.eyes}: not one of {', '.join(EYES_MODES)}")

    @property
    def sampling(self) -> Sampling:
        """The frames decoded and handed on: for the pre-screen, the decoder may skip frames that cannot
        win (`Sampling.prescreen`); --keyframes decodes keyframes only, two a window at most (the
        pre-screen keeps the sharper: with --window 5 on a camera's one-second GOP, 2 of 5)."""
        return Sampling(self.every, self.fps, self.max_frames, self.start, self.end, self.prescreen, self.keyframes,
                        keyframe_spacing=self.window / KEYFRAMES_PER_WINDOW if self.keyframes else 0.0)

    @property
    def prescreen(self) -> bool:
        """Windowed pre-screening is the default; explicit sampling or --exhaustive analyse exactly
        the frames asked for."""
        return not (self.exhaustive or self.every > 1 or self.fps)


@dataclass
class Pick:
    """One selected face. `record()` is its JSON form (manifest entries and --jsonl lines)."""

    source: str
    frame: int
    time: float
    bbox: list[float]
    landmarks: list[list[float]]
    det_score: float
    quality: float
    rank: int = 0
    scorer: str = ""
    scorer_version: str = ""
    frame_file: str | None = None
    crop_file: str | None = None
    frame_size: list[int] | None = None  # [width, height] of the frame the face is in
    person: int | None = None  # --per-person: the person's id within its input
    identity: str | None = None  # --gallery: the matched name, or "unknown"
    similarity: float | None = None  # --gallery: cosine of the person's template to that name's
    eyes_open: float | None = None  # openness of the face's more closed eye (fqselect.eyes)
    image: np.ndarray | None = field(default=None, repr=False)
    crop: np.ndarray | None = field(default=None, repr=False)
    embedding: np.ndarray | None = field(default=None, repr=False)

    RECORD_FIELDS = ("source", "frame", "time", "frame_size", "bbox", "landmarks", "det_score", "quality", "rank",
                     "scorer", "scorer_version", "frame_file", "crop_file")

    @classmethod
    def from_record(cls, record: dict) -> "Pick":
        """A pick from its JSON record (a manifest's `faces` entry): no pixels, no embedding."""
        names = {f.name for f in fields(cls)} - {"image", "crop", "embedding"}
        return cls(**{key: value for key, value in record.items() if key in names})

    def record(self) -> dict:
        record = {name: getattr(self, name) for name in self.RECORD_FIELDS}
        record.update({name: getattr(self, name) for name in ("eyes_open", "person", "identity", "similarity")
                       if getattr(self, name) is not None})
        return record


@dataclass
class InputResult:
    """What one input produced. `status`: ok | no_face | failed | skipped."""

    input: str
    status: str = "ok"
    kind: str = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    picks: list[Pick] = field(default_factory=list)
    frames_decoded: int = 0
    frames_analysed: int = 0  # frames the detector saw whole
    regions_analysed: int = 0  # face regions it searched again in a window's next-sharpest frames
    faces_seen: int = 0
    faces_embedded: int = 0  # --per-person: faces the recogniser embedded (linking by overlap needs none)
    seconds: float = 0.0
    embedding: np.ndarray | None = field(default=None, repr=False)
    persons: list["Person"] = field(default_factory=list)
    timeline: list[tuple[float, float | None]] = field(default_factory=list)  # videos: (time, best quality)
    output_dir: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped") and not self.warnings

    def drop_pixels(self) -> None:
        """Forget the picks' frames and crops once they are written or reported: a batch of thousands
        of inputs keeps only their records, so memory does not grow with the number of inputs."""
        for pick in self.picks:
            pick.image = pick.crop = None


Progress = Callable[[int, int | None], None]  # (frames analysed so far, frames planned or None)
