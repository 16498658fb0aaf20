"""What a run gives back: an `InputResult` per input, with its `Pick`s (one JSON record each) and, with
--per-person, its `Person`s."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np



FRAME_JPEG_QUALITY = 95  # the picks' frames as written, and held frames compressed to save memory
PATCH_MARGIN = 0.5  # a compressed frame keeps this share of the face box's side around the face


@dataclass
class Pick:
    """One selected face. `record()` is its JSON form (manifest entries and --jsonl lines)."""

    source: str
    frame: int
    time: float
    bbox: list[float]
    landmarks: list[list[float]]
    det_score: float
    quality: float  # the calibrated probability that it matches the person's other good images (FMR 1e-3)
    rank: int = 0
    scorer: str = ""
    scorer_version: str = ""
    frame_file: str | None = None
    crop_file: str | None = None
    frame_size: list[int] | None = None  # [width, height] of the frame the face is in
    person: int | None = None  # --per-person: the person's id within its input
    identity: str | None = None  # --gallery: the matched name, or "unknown"
    similarity: float | None = None  # --gallery: cosine of the person's template to that name's
    eyes_open: float | None = None  # openness of the face's more closed eye (quality/eyes.py)
    gaze: float | None = None  # how far aside the eyes look (0: at the camera; quality/eyes.py)
    mouth_open: float | None = None  # the inner lips' distance over the mouth's width (quality/mouth.py)
    net_quality: float | None = None  # the quality network's own calibrated score
    agreement: float | None = None  # cosine to its set's centre of the other faces (None: no set)
    set_faces: int | None = None  # faces of its set the agreement was measured among (None: no set)
    score: float | None = None  # what it was ranked by: log-odds of the quality, plus the eyes' and mouth's terms
    image: np.ndarray | None = field(default=None, repr=False)
    crop: np.ndarray | None = field(default=None, repr=False)
    embedding: np.ndarray | None = field(default=None, repr=False)
    captured_at: str | None = None  # a live stream's: when its frame arrived (ISO 8601, UTC)
    # A held face's frame compressed to save memory (`compress_frame`): the frame as the output's JPEG (or
    # nothing, where it can be decoded again), and the pixels around the face (the eye model's input) with
    # their top-left corner in the frame.
    frame_jpeg: bytes | None = field(default=None, repr=False)
    patch: np.ndarray | None = field(default=None, repr=False)
    patch_origin: tuple[int, int] = (0, 0)

    RECORD_FIELDS = ("source", "frame", "time", "frame_size", "bbox", "landmarks", "det_score", "quality", "net_quality",
                     "agreement", "set_faces", "eyes_open", "gaze", "mouth_open", "score", "rank", "scorer", "scorer_version", "frame_file",
                     "crop_file")

    @classmethod
    def from_record(cls, record: dict) -> "Pick":
        """A pick from its JSON record (a manifest's `faces` entry): no pixels, no embedding."""
        names = {f.name for f in fields(cls)} - {"image", "crop", "embedding", "frame_jpeg", "patch", "patch_origin"}
        return cls(**{key: value for key, value in record.items() if key in names})

    def compress_frame(self, jpeg: bytes | None) -> None:
        """Keep the frame as `jpeg` (its encoding, shared by the faces of one frame) and the pixels around
        the face, not the decoded frame; with None, only those pixels (a video file's frame is decoded
        again where the face is picked: `run.job.Job.restore_frames`)."""
        if self.image is None:
            return
        x1, y1, x2, y2 = self.bbox
        margin = max(x2 - x1, y2 - y1) * PATCH_MARGIN
        height, width = self.image.shape[:2]
        left, top = max(0, int(x1 - margin)), max(0, int(y1 - margin))
        right, bottom = min(width, int(x2 + margin) + 1), min(height, int(y2 + margin) + 1)
        self.patch, self.patch_origin = self.image[top:bottom, left:right].copy(), (left, top)
        self.frame_jpeg, self.image = jpeg, None

    def frame_image(self) -> np.ndarray | None:
        """The frame, decoded again where it was compressed."""
        if self.image is None and self.frame_jpeg is not None:
            import cv2
            import numpy as np

            return cv2.imdecode(np.frombuffer(self.frame_jpeg, np.uint8), cv2.IMREAD_COLOR)
        return self.image

    def record(self) -> dict:
        record = {name: getattr(self, name) for name in self.RECORD_FIELDS}
        record.update({name: getattr(self, name) for name in ("person", "identity", "similarity", "captured_at")
                       if getattr(self, name) is not None})
        return record


@dataclass
class Person:
    """One person of an input: its picks (Candidates) and what the manifest says about it."""

    id: int
    picks: list  # of choose.topk.Candidate, best first
    candidates: list  # of choose.topk.Candidate: the faces its picks are chosen among
    faces_seen: int
    first_time: float
    last_time: float
    template: np.ndarray  # of its tracks' best whole-frame faces: merging and naming (independent of --top)
    first_order: int = 0
    embedding: np.ndarray | None = None  # --embeddings: quality-weighted mean of the picks' embeddings
    identity: str | None = None
    similarity: float | None = None
    timeline: list = field(default_factory=list)  # (time, quality) of its faces in frames searched whole

    def record(self) -> dict:
        record = {"id": self.id, "faces_seen": self.faces_seen, "first_time": round(self.first_time, 3),
                  "last_time": round(self.last_time, 3), "timeline": [[round(t, 3), q] for t, q in self.timeline]}
        if self.identity is not None:
            record.update(identity=self.identity, similarity=round(float(self.similarity), 4))
        return record


@dataclass
class InputResult:
    """What one input produced. `status`: ok | no_face | failed | skipped."""

    input: str
    status: str = "ok"
    kind: str = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a user may want to know (fewer picks than asked, and why)
    picks: list[Pick] = field(default_factory=list)
    frames_total: int = 0  # a video's frames, as its container says (0: unknown)
    frames_decoded: int = 0
    frames_analysed: int = 0  # frames the detector saw whole
    regions_analysed: int = 0  # face regions it searched again in a window's next-sharpest frames
    faces_seen: int = 0
    faces_embedded: int = 0  # --per-person: faces the recogniser embedded (linking by overlap needs none)
    seconds: float = 0.0
    embedding: np.ndarray | None = field(default=None, repr=False)
    persons: list[Person] = field(default_factory=list)
    timeline: list[tuple[float, float | None]] = field(default_factory=list)  # videos: (time, best quality)
    output_dir: str | None = None
    run: str | None = None  # the batch run that produced it (run.batch.run_id), and its place in the run's order
    position: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped") and not self.warnings

    def drop_pixels(self) -> None:
        """Forget the picks' frames and crops once they are written or reported: a batch of thousands
        of inputs keeps only their records, so memory does not grow with the number of inputs."""
        for pick in self.picks:
            pick.image = pick.crop = pick.frame_jpeg = pick.patch = None


Progress = Callable[[int, int | None], None]  # (frames analysed so far, frames planned or None)
