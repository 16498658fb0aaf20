"""Per-person selection (`--per-person`): faces linked into tracks, tracks merged into persons, and the
top-k chosen per person.

- Linking, frame to frame: a face continues a track when their boxes overlap and the faces look alike,
  when the boxes overlap strongly in close frames (blur changes embeddings more than positions), or
  when the faces are alike enough on their own (after a cut or a fast move).
- Merging, at the end: two tracks that never share a frame are one person when the quality-weighted
  templates of their best faces match (the same threshold as recognition at FMR 1e-3).
- Labelling (`--gallery DIR`): a person takes the name of the best-matching gallery template above
  the same threshold, else `unknown`.
Each track keeps its own bounded top-k selector, so memory grows with the number of tracks, not frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .align import detect_and_align
from .decode import folder_images, read_image
from .embed import quality_weighted_mean
from .errors import InputError, UsageError
from .selection import Candidate, TopKSelector, greedy_picks

# Similarity thresholds are the recogniser's own operating points (`recognizer.points`, registered with
# it in embed.py): `match` at FMR 1e-3 merges persons and names them; `link_min` and `link` link faces.
LINK_IOU = 0.3  # boxes overlapping this much, with faces at least points["link_min"] alike, link
LINK_SOLID_IOU = 0.5  # boxes overlapping this much within LINK_RECENT seconds link on their own: blur
LINK_RECENT = 1.0  # changes a face's embedding far more than it moves its box between close frames
TRACK_TIMEOUT = 2.0  # seconds without a face before a track ends


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, 4) with every box in b (M, 4)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


@dataclass
class Track:
    selector: TopKSelector
    box: np.ndarray
    embedding: np.ndarray
    first_time: float
    last_time: float
    frames: set[int] = field(default_factory=set)
    faces_seen: int = 0

    def add(self, candidate: Candidate, embedding: np.ndarray) -> None:
        pick = candidate.payload
        self.selector.offer(candidate)
        self.box, self.embedding = np.array(pick.bbox, np.float32), embedding
        # a window's sharpest frame is analysed before the others: times arrive slightly out of order
        self.first_time, self.last_time = min(self.first_time, candidate.time), max(self.last_time, candidate.time)
        self.frames.add(pick.frame)
        self.faces_seen += 1

    def template(self) -> np.ndarray:
        picks = self.selector.picks()
        return quality_weighted_mean(np.stack([c.payload.embedding for c in picks]), np.array([c.quality for c in picks]))


@dataclass
class Person:
    """One person of an input: its picks (Candidates) and what the manifest says about it."""

    id: int
    picks: list[Candidate]
    faces_seen: int
    first_time: float
    last_time: float
    embedding: np.ndarray
    identity: str | None = None
    similarity: float | None = None

    def record(self) -> dict:
        record = {"id": self.id, "faces_seen": self.faces_seen, "first_time": round(self.first_time, 3),
                  "last_time": round(self.last_time, 3)}
        if self.identity is not None:
            record.update(identity=self.identity, similarity=round(float(self.similarity), 4))
        return record


class PersonTracker:
    """Links the faces of each analysed frame to tracks; `persons()` merges and ranks at the end."""

    def __init__(self, top: int, min_gap: float, min_quality: float, recognizer):
        self.top, self.min_gap, self.min_quality = top, min_gap, min_quality
        self.recognizer = recognizer
        self.active: list[Track] = []
        self.finished: list[Track] = []

    def update(self, candidates: list[Candidate]) -> list[Track]:
        """Assign one frame's faces to tracks; returns each face's track, in order."""
        if not candidates:
            return []
        now = candidates[0].time
        self.finished += [t for t in self.active if now - t.last_time > TRACK_TIMEOUT]
        self.active = [t for t in self.active if now - t.last_time <= TRACK_TIMEOUT]
        embeddings = self.recognizer.embed(np.stack([c.payload.crop for c in candidates]))
        for candidate, embedding in zip(candidates, embeddings):
            candidate.payload.embedding = embedding
        assigned = self._match(candidates, embeddings)
        tracks = []
        for i, (candidate, embedding) in enumerate(zip(candidates, embeddings)):
            track = assigned.get(i)
            if track is None:
                track = Track(TopKSelector(self.top, self.min_gap, self.min_quality), np.zeros(4), embedding, now, now)
                self.active.append(track)
            track.add(candidate, embedding)
            tracks.append(track)
        return tracks

    def _match(self, candidates: list[Candidate], embeddings: np.ndarray) -> dict[int, Track]:
        if not self.active:
            return {}
        boxes = np.array([c.payload.bbox for c in candidates], np.float32)
        overlap = box_iou(boxes, np.stack([t.box for t in self.active]))
        alike = embeddings @ np.stack([t.embedding for t in self.active]).T
        recent = np.array([candidates[0].time - t.last_time <= LINK_RECENT for t in self.active])[None, :]
        points = self.recognizer.points
        allowed = (((overlap >= LINK_IOU) & (alike >= points["link_min"])) | (alike >= points["link"])
                   | ((overlap >= LINK_SOLID_IOU) & recent))
        score = np.where(allowed, alike + overlap, -np.inf)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for flat in np.argsort(-score, axis=None):  # greedy, best link first; one face per track per frame
            face, track = divmod(int(flat), score.shape[1])
            if not np.isfinite(score[face, track]):
                break
            if face not in assigned and track not in used:
                assigned[face] = self.active[track]
                used.add(track)
        return assigned

    def persons(self) -> list[Person]:
        tracks = [t for t in self.finished + self.active if t.selector.picks()]
        groups = merge_tracks(tracks, self.recognizer.points["match"])
        persons = []
        for members in groups:
            candidates = [c for t in members for c in t.selector.pool]
            picks = greedy_picks(candidates, self.top, self.min_gap)
            persons.append(Person(
                id=-1,
                picks=picks,
                faces_seen=sum(t.faces_seen for t in members),
                first_time=min(t.first_time for t in members),
                last_time=max(t.last_time for t in members),
                embedding=quality_weighted_mean(np.stack([c.payload.embedding for c in picks]), np.array([c.quality for c in picks])),
            ))
        persons.sort(key=lambda p: (p.first_time, -p.picks[0].quality))
        for number, person in enumerate(persons):
            person.id = number
        return persons


def merge_tracks(tracks: list[Track], match: float) -> list[list[Track]]:
    """Groups of tracks that are one person: templates above `match`, never in one frame together.
    Most similar pairs are merged first; a merge that would put two co-occurring tracks together is refused."""
    if not tracks:
        return []
    templates = np.stack([t.template() for t in tracks])
    similarity = templates @ templates.T
    groups = {i: {i} for i in range(len(tracks))}
    owner = list(range(len(tracks)))
    pairs = sorted(((similarity[i, j], i, j) for i in range(len(tracks)) for j in range(i + 1, len(tracks))), reverse=True)
    for value, i, j in pairs:
        if value < match:
            break
        a, b = owner[i], owner[j]
        if a == b or any(tracks[x].frames & tracks[y].frames for x in groups[a] for y in groups[b]):
            continue
        groups[a] |= groups.pop(b)
        for member in groups[a]:
            owner[member] = a
    return [[tracks[i] for i in sorted(members)] for members in groups.values()]


class Gallery:
    """Known people from `<name>/<images>`: one template per name from its images' largest faces."""

    def __init__(self, folder: str | Path, detector, recognizer):
        folder = Path(folder)
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
                embeddings = recognizer.embed(np.stack(crops))
                names.append(person.name)
                templates.append(quality_weighted_mean(embeddings, np.ones(len(embeddings))))
        if not names:
            raise UsageError(f"{folder}: no face found in any <name>/<images> folder of the gallery")
        self.names, self.templates = names, np.stack(templates)
        self.match = recognizer.points["match"]

    def label(self, embedding: np.ndarray) -> tuple[str, float]:
        similarity = self.templates @ embedding
        best = int(np.argmax(similarity))
        return (self.names[best] if similarity[best] >= self.match else "unknown"), float(similarity[best])
