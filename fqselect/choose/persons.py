"""Persons: faces linked into tracks, tracks merged into persons (the sets the final ranking works on in a
video, and what `--per-person` picks each of).

- Linking, frame to frame, by box overlap first: a face whose box overlaps one live track's last box
  strongly, with no rival face or track near it, continues that track without being embedded. Only what
  overlap cannot decide (crossings, cuts, fast moves, new faces) is embedded and linked as before: boxes
  overlapping with faces at least `link_min` alike, or faces `link` alike on their own.
- Refinement: the window's next-sharpest frames are searched near the faces of its sharpest frame (as
  the default path does); a face found there belongs to the track of the face whose region it is in.
- Merging, at the end: tracks are one person when the templates of their best faces (each track's
  TEMPLATE_FACES best faces of whole analysed frames) match at the recogniser's FMR 1e-3 point, and they
  share faces in one frame for at most MERGE_MAX_OVERLAP seconds (a new track often starts before the
  old one times out). Ids follow first appearance. Neither merging nor ids depend on --top: templates,
  times and linking use only the whole frames analysed, which --top does not change.
- Labelling (`--gallery DIR`): a person takes the name of the best-matching gallery template above the
  same threshold, else `unknown`; persons with the same name are one person.
Each track keeps bounded selectors (its k best faces, and the SHORTLIST best its person's final ranking
chooses among); the frames those faces hold beyond FRAME_BUDGET are held compressed, weakest first, so
memory stays flat with the video's length however many tracks it makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..faces.recognize import quality_weighted_mean
from ..records import FRAME_JPEG_QUALITY, Person
from .ranking import SHORTLIST, SHORTLIST_GAP_SHARE, Embedder
from .topk import Candidate, TopKSelector, greedy_picks

# Similarity thresholds are the recogniser's own operating points (`recognizer.points`, registered with
# it in faces/): `match` at FMR 1e-3 merges persons and names them; `link_min` and `link` link faces.
LINK_IOU = 0.3  # boxes overlapping this much, with faces at least points["link_min"] alike, link
LINK_SOLID_IOU = 0.5  # a box overlapping one track's this much, with no rival above LINK_IOU, links unembedded
TRACK_TIMEOUT = 2.0  # seconds without a face before a track ends
TEMPLATE_FACES = 3  # a track's best whole-frame faces that make its template
MERGE_MAX_OVERLAP = 1.0  # seconds two tracks may both have a face in the same frames and still be one person
POOL_SLACK = 4  # faces a track's shortlist pool holds beyond those that could still matter (each holds its frame)
# Bytes of decoded frames the tracks' faces may hold; beyond it the frames of the weakest faces are held
# compressed (the pixels around the face, and the output's JPEG where the input cannot decode the frame
# again), so memory stays flat with video length.
FRAME_BUDGET = 96 * 2**20


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
    selector: TopKSelector  # its k best faces by the streaming merit: what refinement and gap filling ask
    pool: TopKSelector  # its SHORTLIST best: what its person's final ranking chooses among
    first: Candidate  # its first face of a whole frame (ids follow first appearance)
    last: Candidate  # its latest face (its box)
    known: Candidate | None = None  # its latest face embedded: what linking by likeness compares with
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))  # box corners, pixels/s
    best: TopKSelector = field(default_factory=lambda: TopKSelector(TEMPLATE_FACES))  # template faces
    frames: dict[int, float] = field(default_factory=dict)  # whole frames with a face of it: index -> time
    qualities: dict[int, float] = field(default_factory=dict)  # ... and its quality there (the report's strip)
    faces_seen: int = 0
    compressed: bool = False  # ended with every frame its faces hold compressed (it gets no new face): swept no more

    @property
    def box(self) -> np.ndarray:
        return np.array(self.last.payload.bbox, np.float32)

    def predicted_box(self, time: float) -> np.ndarray:
        """Where its face should be at `time`, moving on as it last moved (pans and walks are steady over
        the second between the windows' frames)."""
        return self.box + self.velocity * (time - self.last.time)

    @property
    def first_time(self) -> float:
        return min(self.frames.values())

    @property
    def last_time(self) -> float:
        return max(self.frames.values())

    def add(self, candidate: Candidate, whole_frame: bool = True) -> None:
        self.selector.offer(candidate)
        self.pool.offer(candidate)
        self.faces_seen += 1
        if candidate.payload.embedding is not None:
            self.known = candidate
        if whole_frame:
            self.best.offer(candidate)
            self.frames[candidate.payload.frame] = candidate.time
            self.qualities[candidate.payload.frame] = round(float(candidate.net), 4)
            if candidate.time > self.last.time:
                moved = np.array(candidate.payload.bbox, np.float32) - self.box
                self.velocity = moved / (candidate.time - self.last.time)
            self.last = candidate


class PersonTracker:
    """Links faces to tracks (`update` for a whole frame's faces, `refine` for faces found again near
    them); `persons()` merges and ranks at the end. Faces are embedded only when needed (`embedded`)."""

    def __init__(self, top: int, min_gap: float, min_quality: float, recognizer, link_by_overlap: bool = True,
                 timeout: float = TRACK_TIMEOUT, place_gap: float | None = None, frame_budget: int | None = FRAME_BUDGET,
                 drop_frames: bool = False):
        self.top, self.min_gap, self.min_quality = top, min_gap, min_quality
        self.timeout = timeout  # seconds a track may go unseen before it ends
        # seconds unseen after which where a track's face was no longer links a face to it (only the face
        # itself does): one person replacing another at the same spot is then two persons
        self.place_gap = timeout if place_gap is None else place_gap
        self.link_by_overlap = link_by_overlap  # False: embed every face (the reference benchmarks compare with)
        self.recognizer = recognizer
        self.embed = Embedder(recognizer)
        self.frame_budget = frame_budget  # None: every held face keeps its decoded frame
        self.drop_frames = drop_frames  # frames over the budget dropped (a video file decodes a pick's again), not encoded
        self.active: list[Track] = []
        self.finished: list[Track] = []

    @property
    def embedded(self) -> int:
        return self.embed.embedded

    def update(self, candidates: list[Candidate]) -> list[Track]:
        """Assign one whole frame's faces to tracks; returns each face's track, in order."""
        if not candidates:
            return []
        now = candidates[0].time
        near = [t for t in self.active if now - t.last_time <= self.place_gap]
        away = [t for t in self.active if t not in near]
        assigned = self._link_by_overlap(candidates, near) if self.link_by_overlap else {}
        # A track unseen for longer than place_gap (or the timeout: a live stream's analysis may skip to
        # keyframes seconds apart) continues only by the face itself; where it stood no longer counts.
        for tracks, by_place in ((near, True), (away, False)):
            undecided = [i for i in range(len(candidates)) if i not in assigned]
            free = [t for t in tracks if t not in assigned.values()]
            if undecided and free:
                assigned.update(self._link_by_likeness([candidates[i] for i in undecided], undecided, free, by_place))
        self.finished += self.expire(now, keep=set(map(id, assigned.values())))
        tracks = []
        for i, candidate in enumerate(candidates):
            track = assigned.get(i)
            if track is None:
                track = Track(TopKSelector(self.top, self.min_gap, self.min_quality),
                              TopKSelector(max(SHORTLIST, self.top), self.min_gap * SHORTLIST_GAP_SHARE, slack=POOL_SLACK),
                              candidate, candidate)
                self.active.append(track)
            track.add(candidate)
            tracks.append(track)
        if self.frame_budget is not None:
            self._keep_frames_in_budget()
        return tracks

    def _keep_frames_in_budget(self) -> None:
        """`compress_weakest` over the faces of the tracks that may hold decoded frames: those in view, and
        the ended ones not all compressed yet (an ended track gets no new face, so once its frames are all
        compressed it is passed over: the sweep stays as short as the budget's frames, however many tracks
        a long video ends)."""
        ended = [t for t in self.finished if not t.compressed]
        compress_weakest(self.held(self.active + ended), self.frame_budget, encode=not self.drop_frames)
        for track in ended:
            track.compressed = all(c.payload.image is None for c in self.held([track]))

    def held(self, tracks: list[Track] | None = None) -> list[Candidate]:
        """Every face these tracks (all by default) hold."""
        return [c for t in (self.active + self.finished if tracks is None else tracks)
                for c in (*t.pool.pool, *t.selector.pool, *t.best.pool, t.first, t.last, *((t.known,) if t.known else ()))]

    def expire(self, now: float, keep: set[int] = frozenset()) -> list[Track]:
        """The active tracks unseen for longer than the timeout at `now` (but those whose id is in `keep`):
        no longer active, returned (a live stream emits them and forgets them; `update` keeps them for the
        persons at the end)."""
        ended = [t for t in self.active if now - t.last_time > self.timeout and id(t) not in keep]
        self.active = [t for t in self.active if t not in ended]
        return ended

    def refine(self, found: list[Candidate], near: list[Candidate], tracks: list[Track]) -> tuple[list[Candidate], list[Track]]:
        """Faces found again in a window's next frame, searched near `near` (the faces of `tracks`): each
        goes to the track of the face it overlaps most; the linked faces and their tracks."""
        if not found or not near:
            return [], []
        overlap = box_iou(_boxes(found), _boxes(near))
        linked, owners = [], []
        for candidate, row in zip(found, overlap):
            if row.max() >= LINK_IOU:
                track = tracks[int(row.argmax())]
                track.add(candidate, whole_frame=False)
                linked.append(candidate)
                owners.append(track)
        return linked, owners

    def _link_by_overlap(self, candidates: list[Candidate], tracks: list[Track]) -> dict[int, Track]:
        """Faces whose box overlaps exactly one of the tracks' (and that track's only them) strongly."""
        if not tracks:
            return {}
        overlap = track_overlap(candidates, tracks)
        assigned = {}
        for face, row in enumerate(overlap):
            track = int(row.argmax())
            rivals = np.sum(row >= LINK_IOU) + np.sum(overlap[:, track] >= LINK_IOU)
            if row[track] >= LINK_SOLID_IOU and rivals == 2:  # itself, counted once in each direction
                assigned[face] = tracks[track]
        return assigned

    def _link_by_likeness(self, candidates: list[Candidate], positions: list[int], tracks: list[Track],
                          by_place: bool = True) -> dict[int, Track]:
        overlap = track_overlap(candidates, tracks)
        known = [t.last if t.known is None else t.known for t in tracks]  # embedded once, compared again later
        embeddings = self.embed(candidates + known)  # in one call: its faces are split over the cores
        alike = embeddings[: len(candidates)] @ embeddings[len(candidates):].T
        for track, face in zip(tracks, known):
            track.known = face
        points = self.recognizer.points
        allowed = ((overlap >= LINK_IOU) & (alike >= points["link_min"]) & by_place) | (alike >= points["link"])
        score = np.where(allowed, alike + overlap, -np.inf)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for flat in np.argsort(-score, axis=None):  # greedy, best link first; one face per track per frame
            face, track = divmod(int(flat), score.shape[1])
            if not np.isfinite(score[face, track]):
                break
            if positions[face] not in assigned and track not in used:
                assigned[positions[face]] = tracks[track]
                used.add(track)
        return assigned

    def template(self, best: list[Candidate]) -> np.ndarray:
        return quality_weighted_mean(self.embed(best), np.array([c.quality for c in best]))

    def persons(self, gallery=None) -> list[Person]:
        tracks = [t for t in self.finished + self.active if t.selector.picks()]
        groups = merge_tracks(tracks, [self.template(t.best.picks()) for t in tracks], self.recognizer.points["match"])
        persons = [self.person_of(members) for members in groups]
        if gallery is not None:
            for person in persons:
                person.identity, person.similarity = gallery.label(person.template)
            persons = self._merge_named(persons)
        persons.sort(key=lambda p: (p.first_time, p.first_order))
        for number, person in enumerate(persons):
            person.id = number
        return persons

    def person_of(self, members: list[Track]) -> Person:
        """The person these tracks are (id -1 until numbered)."""
        picks = greedy_picks([c for t in members for c in t.selector.pool], self.top, self.min_gap)
        best = sorted((c for t in members for c in t.best.picks()), key=lambda c: -c.quality)[:TEMPLATE_FACES]
        return Person(
            id=-1,
            picks=picks,
            candidates=[c for t in members for c in t.pool.pool],
            faces_seen=sum(t.faces_seen for t in members),
            first_time=min(t.first_time for t in members),
            last_time=max(t.last_time for t in members),
            template=self.template(best),
            timeline=sorted((t.frames[i], t.qualities[i]) for t in members for i in t.frames),
            first_order=min(members, key=lambda t: (t.first_time, t.first.order)).first.order,
        )

    def _merge_named(self, persons: list[Person]) -> list[Person]:
        """Persons the gallery gives one name are one person (`unknown` ones stay apart)."""
        merged: dict[str, Person] = {}
        kept = []
        for person in persons:
            same = merged.get(person.identity) if person.identity != "unknown" else None
            if same is None:
                kept.append(person)
                if person.identity != "unknown":
                    merged[person.identity] = person
                continue
            same.picks = greedy_picks(same.picks + person.picks, self.top, self.min_gap)
            same.candidates = same.candidates + person.candidates
            same.timeline = sorted(same.timeline + person.timeline)
            same.faces_seen += person.faces_seen
            if (person.first_time, person.first_order) < (same.first_time, same.first_order):
                same.first_time, same.first_order = person.first_time, person.first_order
            same.last_time = max(same.last_time, person.last_time)
            same.similarity = max(same.similarity, person.similarity)
        return kept


def track_overlap(candidates: list[Candidate], tracks: list[Track]) -> np.ndarray:
    """How much each face's box overlaps where each track's face was last or should be now, moving on as
    it last moved (the better of the two: a box that jittered between two frames a second apart predicts a
    move that did not happen)."""
    boxes, now = _boxes(candidates), candidates[0].time
    return np.maximum(box_iou(boxes, np.stack([t.box for t in tracks])),
                      box_iou(boxes, np.stack([t.predicted_box(now) for t in tracks])))


def compress_weakest(faces: list[Candidate], budget: int, encode: bool = True) -> None:
    """While the decoded frames these faces hold take more than `budget` bytes, the frame whose best face
    is weakest is held compressed (`Pick.compress_frame`) by every face that holds it: as its JPEG, or
    (`encode` False) not at all, where the input can decode it again."""
    frames: dict[int, tuple[float, np.ndarray, dict]] = {}
    for candidate in faces:
        image = candidate.payload.image
        if image is not None:
            merit, _, picks = frames.get(id(image), (-np.inf, image, {}))
            picks[id(candidate.payload)] = candidate.payload
            frames[id(image)] = (max(merit, candidate.merit), image, picks)
    total = sum(image.nbytes for _, image, _ in frames.values())
    for _, image, picks in sorted(frames.values(), key=lambda entry: entry[0]):
        if total <= budget:
            return
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, FRAME_JPEG_QUALITY])[1].tobytes() if encode else None
        for pick in picks.values():
            pick.compress_frame(jpeg)
        total -= image.nbytes


def _boxes(candidates: list[Candidate]) -> np.ndarray:
    return np.array([c.payload.bbox for c in candidates], np.float32)


def shared_seconds(a: Track, b: Track) -> float:
    """How long two tracks both have a face in the same frames: the span of their shared frames' times
    (0 when they share none, a frame's worth when one)."""
    shared = [a.frames[f] for f in a.frames.keys() & b.frames.keys()]
    return max(shared) - min(shared) if shared else -1.0


def merge_tracks(tracks: list[Track], templates: list[np.ndarray], match: float) -> list[list[Track]]:
    """Groups of tracks that are one person: templates at or above `match`, sharing frames for at most
    MERGE_MAX_OVERLAP seconds. Most similar pairs are merged first; a merge that would put two tracks
    together that share longer is refused (two people side by side look alike to no recogniser at FMR 1e-3,
    but a tracker's duplicate of one face does)."""
    if not tracks:
        return []
    templates = np.stack(templates)
    similarity = templates @ templates.T
    groups = {i: {i} for i in range(len(tracks))}
    owner = list(range(len(tracks)))
    pairs = sorted(((similarity[i, j], i, j) for i in range(len(tracks)) for j in range(i + 1, len(tracks))), reverse=True)
    for value, i, j in pairs:
        if value < match:
            break
        a, b = owner[i], owner[j]
        if a == b or any(shared_seconds(tracks[x], tracks[y]) > MERGE_MAX_OVERLAP for x in groups[a] for y in groups[b]):
            continue
        groups[a] |= groups.pop(b)
        for member in groups[a]:
            owner[member] = a
    return [[tracks[i] for i in sorted(members)] for members in groups.values()]
