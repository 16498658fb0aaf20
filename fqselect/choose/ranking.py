"""The final ranking of a set of one person's candidate faces: the network screens them, the recogniser
embeds a bounded shortlist, and network quality, agreement (quality/agreement.py) and the face's parts
(eyes, mouth: quality/parts.py) combine into one number on the log-odds scale, which never saturates the
way a probability does.

Every candidate's `merit` while a video streams is the network's log-odds. `rank` turns the shortlist's
merits into the final ones and fills in each pick's `net_quality`, `agreement`, `quality` and `score`:

- `quality` = sigmoid(a·logit(net) + b·agreement + c), the set calibration fitted on the validation
  split: the probability that the face matches the person's other good images. Among natural photos the
  recogniser's agreement predicts that far better than the network (a is small);
- `score` = logit(net) + (b·agreement + c) + the parts' terms: what the picks are ranked by. The network
  keeps its full weight here, as independent evidence beside the agreement's, because a face that
  matches well is not yet a face a person would choose: typical is not the same as sharp and open-eyed
  (the bundled example's defocused second agrees best with its other, all damaged, faces). On the
  validation halves this ranks templates' first picks as well as the calibrated log-odds do
  (docs/sets.md).

The eye and mouth models together cost half the recogniser a face, and their terms only ever cost: the
pickers read a face's parts only where their choice reaches it (`settle_parts`), and whether a set's eyes
can rank it at all (some good face of it shows open eyes) only when the choice first reaches one of its
faces, which gives the picks reading every face would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..faces.align import face_region
from ..faces.batch import FaceBatch
from ..quality.agreement import MIN_SET, SetCalibration, agreement_in_place_of, centre_weights, logit, prior_weights, sigmoid
from ..quality.eyes import eye_term, gaze_term
from ..quality.mouth import mouth_term
from .topk import Candidate, greedy_picks

EMBED_BUDGET = 24  # faces an input's ranking may embed, shared among its sets
SHORTLIST = 12  # at most this many faces of one set are embedded and ranked
# The shortlist's faces are at least this share of --min-gap apart: distinct moments (near-duplicates of
# one moment would outweigh the others in the centre), yet a short clip still gives a set worth the name.
SHORTLIST_GAP_SHARE = 0.25
READABLE_EYES = 0.4  # a set's most open eyes must read at least this for the eyes to rank its faces
READ_AT_ONCE = 2  # faces whose eyes are read in one call while a set's readable eyes are sought (one a core)


def stream_merit(net_quality: float) -> float:
    """What a face is ranked by while the input streams: the network's log-odds (its parts and its set's
    agreement are measured only for the shortlist, at the end)."""
    return float(logit(net_quality))


def parts_unread(pick) -> bool:
    return pick.eyes_open is None and pick.mouth_open is None


def read_parts(candidates: list[Candidate], parts) -> None:
    """Each candidate's `eyes_open`, `gaze` and `mouth_open` (those not read yet) by `parts`
    (quality.parts.FaceParts), from the frame it came from (or the pixels around the face, where its
    frame is held compressed)."""
    unread = [(c.payload, *held_pixels(c.payload)) for c in candidates if parts_unread(c.payload)]
    readable = [entry for entry in unread if entry[1] is not None]  # a face whose pixels are gone stays unread
    if not readable or parts is None:
        return
    missing, sources, origins = [list(column) for column in zip(*readable)]
    origins = np.array(origins, np.float32)
    boxes = np.array([p.bbox for p in missing], np.float32) - np.tile(origins, 2)
    faces = FaceBatch(boxes, np.ones(len(missing), np.float32), np.array([p.landmarks for p in missing], np.float32) - origins[:, None],
                      np.stack([p.crop for p in missing]), [face_region(image, box) for image, box in zip(sources, boxes)], sources)
    readings = parts.read(faces)
    for i, pick in enumerate(missing):
        if readings.eyes_open is not None:
            pick.eyes_open, pick.gaze = round(float(readings.eyes_open[i]), 4), round(float(readings.gaze[i]), 3)
        if readings.mouth_open is not None:
            pick.mouth_open = round(float(readings.mouth_open[i]), 3)


def held_pixels(pick) -> tuple[np.ndarray | None, tuple[int, int]]:
    """The pixels a pick's face can be read from (its frame, or where the frame is held compressed the
    pixels around the face) and their top-left corner in the frame, read once: the stream may compress
    the frame meanwhile (choose/ahead.py reads on another thread), and it sets the patch first."""
    image = pick.image
    return (image, (0, 0)) if image is not None else (pick.patch, pick.patch_origin)


class Embedder:
    """The recogniser's embeddings of candidates, computed once each (kept on the pick) and counted."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.embedded = 0
        self._counting = threading.Lock()  # the stream's thread and choose/ahead.py's embed

    def __call__(self, candidates: list[Candidate]) -> np.ndarray:
        missing = [c for c in candidates if c.payload.embedding is None]
        if missing:
            for candidate, embedding in zip(missing, self.recognizer.embed(np.stack([c.payload.crop for c in missing]))):
                candidate.payload.embedding = embedding
            with self._counting:
                self.embedded += len(missing)
        return np.stack([c.payload.embedding for c in candidates])

    @property
    def match(self) -> float:
        return self.recognizer.points["match"]


@dataclass
class RankedSet:
    """What a set's ranking measured, kept on each ranked face to judge faces found later against the set:
    the frames its faces came from, how the eyes count, and where set-aware the unit embeddings and each
    face's weight in the centre. `eyes` is None until a choice reaches one of the set's faces
    (`SetRanker.settle_eyes`); only until then are the faces held (`unsettled`). `outside`: the set's
    faces its shortlist left out, which a choice may yet rank beside it (`SetRanker.rank_outside`)."""

    frames: frozenset
    eyes: str | None = None
    embeddings: np.ndarray | None = None
    weights: np.ndarray | None = None
    unsettled: list[Candidate] | None = None
    outside: list[Candidate] = field(default_factory=list)

    def agreement(self, embedding: np.ndarray | None, i: int | None) -> float | None:
        """The agreement of a face standing as face i of the set (face i itself, or another frame of its
        moment), or with i None of a face beside it; None where the set has no centre."""
        return None if self.weights is None else agreement_in_place_of(embedding, i, self.embeddings, self.weights)

    def own_agreement(self, i: int) -> float | None:
        """The agreement of face i of the set itself."""
        return None if self.embeddings is None else self.agreement(self.embeddings[i], i)

    def agreement_of(self, candidate: Candidate) -> float | None:
        """The agreement of a face ranked in this set: one of its shortlist, or one ranked beside it."""
        i = candidate.ranked_in[1]
        return self.own_agreement(i) if i is not None else self.agreement(candidate.payload.embedding, None)


class SetRanker:
    """Ranks each set's candidates: with a set calibration and a recogniser, by network, agreement and
    parts (eyes, mouth); without them, or for a set of fewer than MIN_SET faces, by the network and the
    parts alone."""

    def __init__(self, eyes: str, calibration: SetCalibration | None = None, embed: Embedder | None = None,
                 min_gap: float = 0.0, parts=None, mouth: str = "any"):
        self.eyes, self.mouth, self.calibration, self.embed, self.min_gap = eyes, mouth, calibration, embed, min_gap
        ranked_on = eyes != "any" or mouth != "any"
        self.parts = parts if ranked_on else None  # with neither ranked on, the picks alone are measured

    def eyes_readable(self, candidates: list[Candidate]) -> bool:
        """Whether any of the set's good faces (full weight in its centre: `prior_weights`) shows open
        eyes: where none does (eyes downcast throughout, or too small to read) the eyes decide nothing
        among them; a blurred face's eyes, which can read open, do not count. The good faces' eyes are
        read best first, READ_AT_ONCE at a time, until one shows them open (`settle_parts` reads the rest
        where the choice needs them)."""
        nets = np.array([c.net for c in candidates])
        good = sorted((c for c, keep in zip(candidates, prior_weights(nets) >= 0.5) if keep), key=Candidate.sort_key)
        for start in range(0, len(good), READ_AT_ONCE):
            batch = good[start : start + READ_AT_ONCE]
            read_parts(batch, self.parts)
            if any(c.payload.eyes_open is not None and c.payload.eyes_open >= READABLE_EYES for c in batch):
                return True
        return False

    @staticmethod
    def part_terms(pick, eyes: str | None, mouth: str) -> float:
        """The parts' share of a face's score: shut eyes, open eyes looking aside (an iris is read only in
        an open eye) and an open mouth cost log-odds. The eyes count nothing yet where it is not known
        whether they can rank the set (`eyes` None)."""
        term = 0.0
        if pick.eyes_open is not None and eyes is not None:
            term += float(eye_term(pick.eyes_open, eyes))
            if pick.gaze is not None and pick.eyes_open >= READABLE_EYES:
                term += float(gaze_term(pick.gaze, eyes))
        if pick.mouth_open is not None:
            term += float(mouth_term(pick.mouth_open, mouth))
        return term

    @property
    def set_aware(self) -> bool:
        return self.calibration is not None and self.embed is not None

    @property
    def reach(self) -> float:
        """The most a face's final merit can exceed its streaming merit: the agreement's evidence at
        agreement 1 (a cosine); the parts' terms only cost."""
        return float(self.calibration.evidence(1.0)) if self.set_aware else 0.0

    @property
    def measures(self) -> tuple[Callable[[list[Candidate]], object], ...]:
        """What ranking faces needs of them, for those that lack it, in the order choose/ahead.py measures
        the likely faces while the input streams: their embeddings (set-aware), then their parts, as the
        ranking needs every shortlisted face's embedding and only some faces' parts (`settle_parts`)."""
        return (self.embed, self.read_parts) if self.set_aware else (self.read_parts,)

    def read_parts(self, candidates: list[Candidate]) -> None:
        read_parts(candidates, self.parts)

    def shortlist_size(self, sets: int, k: int) -> int:
        """Faces a set's shortlist holds among `sets` sharing the embedding budget: at least MIN_SET, and
        at least k, so that the final choice can always make k picks."""
        return max(k, MIN_SET, min(SHORTLIST, EMBED_BUDGET // max(1, sets)))

    def shortlist(self, candidates: list[Candidate], size: int, k: int) -> list[Candidate]:
        """The set's `size` best by the streaming merit, distinct moments, among them the k greedy picks
        `min_gap` apart, so that the final choice can always make k picks."""
        chosen = greedy_picks(candidates, k, self.min_gap)
        gap = self.min_gap * SHORTLIST_GAP_SHARE
        for candidate in sorted(candidates, key=Candidate.sort_key):
            if len(chosen) >= size:
                break
            if all(candidate is not c and abs(candidate.time - c.time) >= gap for c in chosen):
                chosen.append(candidate)
        return chosen

    def rank(self, candidates: list[Candidate], size: int = SHORTLIST, k: int = 1) -> list[Candidate]:
        """The set's shortlist, each candidate's merit and pick fields final but for the parts of faces not
        read yet (`settle_parts`); best first."""
        shortlist = self.shortlist(candidates, size, k) if self.set_aware else list(candidates)
        frames = frozenset(c.payload.frame for c in shortlist)
        ranked = RankedSet(frames, unsettled=shortlist) if self.parts is not None else RankedSet(frames, "any")
        if self.set_aware and len(shortlist) >= MIN_SET:
            ranked.embeddings = self.embed(shortlist).astype(np.float64)
            ranked.weights = centre_weights(ranked.embeddings, np.array([c.net for c in shortlist]), self.embed.match)
            listed = set(map(id, shortlist))
            ranked.outside = [c for c in candidates if id(c) not in listed]
        for i, candidate in enumerate(shortlist):
            self._judge(candidate, ranked.own_agreement(i), ranked)
            candidate.ranked_in = (ranked, i)
        return sorted(shortlist, key=Candidate.sort_key)

    def settle_parts(self, looked_at: Callable[[], list[Candidate]]) -> None:
        """Reads the parts a choice needs: the ranked faces `looked_at()` gives (those a choice looked at, in
        its order) whose parts are not read yet are read and judged again, until it gives none. The parts'
        terms only cost, so a face whose parts are not read yet ranks at least as high as it will: once
        every face a choice looks at is read, it is the choice it would be with every face read, and the
        faces it never reached need no reading (docs/sets.md)."""
        if self.parts is None:
            return
        tried: set[int] = set()
        while pending := [c for c in looked_at() if c.ranked_in is not None and id(c) not in tried
                          and (parts_unread(c.payload) or c.ranked_in[0].eyes is None)]:
            for ranked in {id(c.ranked_in[0]): c.ranked_in[0] for c in pending}.values():
                self.settle_eyes(ranked)
            read_parts(pending, self.parts)
            tried.update(map(id, pending))  # a face whose pixels are gone stays unread, judged without its parts
            for candidate in pending:
                ranked = candidate.ranked_in[0]
                self._judge(candidate, ranked.agreement_of(candidate), ranked)

    def settle_eyes(self, ranked: RankedSet) -> None:
        """Whether the set's eyes rank its faces (`eyes_readable`; never under --eyes any), found once,
        when a choice first reaches one of them; its faces read by then are judged again."""
        if ranked.eyes is not None:
            return
        faces, ranked.unsettled = ranked.unsettled or [], None
        ranked.eyes = self.eyes if self.eyes != "any" and faces and self.eyes_readable(faces) else "any"
        for candidate in faces + ranked.outside:
            if candidate.ranked_in is not None and candidate.ranked_in[0] is ranked and not parts_unread(candidate.payload):
                self._judge(candidate, ranked.agreement_of(candidate), ranked)

    def rank_outside(self, ranked: RankedSet, taken: list[Candidate], size: int, k: int) -> list[Candidate]:
        """The faces the set's shortlist left out, where a choice must reach past the shortlists (they
        would otherwise rank by the network alone): of those at least min_gap from every face in `taken`,
        the best `size` (chosen as a shortlist is), embedded and judged beside the set, their agreement
        with the centre of all its faces; parts as ever, where the choice reaches them. Best first."""
        free = [c for c in ranked.outside if c.ranked_in is None and all(abs(c.time - t.time) >= self.min_gap for t in taken)]
        chosen = self.shortlist(free, size, k)
        for candidate, embedding in zip(chosen, self.embed(chosen).astype(np.float64) if chosen else []):
            candidate.ranked_in = (ranked, None)
            self._judge(candidate, ranked.agreement(embedding, None), ranked)
        return sorted(chosen, key=Candidate.sort_key)

    @staticmethod
    def release(ranked: list[Candidate]) -> None:
        """The faces the ranked faces' sets hold let go, once the choice is made: they would hold the
        sets' frames in reference cycles (a live watcher frees each emitted person at once)."""
        for candidate in ranked:
            if candidate.ranked_in is not None:
                candidate.ranked_in[0].unsettled, candidate.ranked_in[0].outside = None, []

    @staticmethod
    def unrank(candidates: list[Candidate]) -> None:
        """The candidates back as they streamed (a set that grew is ranked again from its streaming merits)."""
        for candidate in candidates:
            if candidate.ranked_in is not None:
                candidate.merit, candidate.quality, candidate.ranked_in = stream_merit(candidate.net), candidate.net, None
                pick = candidate.payload
                pick.quality, pick.agreement, pick.set_faces, pick.score = round(candidate.net, 4), None, None, None

    def _judge(self, candidate: Candidate, agreed: float | None, ranked: RankedSet) -> None:
        """The candidate's final merit and pick fields, given its agreement within its set (None: none)."""
        pick, net = candidate.payload, float(logit(candidate.net))
        z = score = net
        if agreed is not None:
            z = float(self.calibration.log_odds(candidate.net, agreed))
            score = net + float(self.calibration.evidence(agreed))
        candidate.merit = float(score + self.part_terms(pick, ranked.eyes, self.mouth))
        candidate.quality = float(sigmoid(z))
        pick.quality = round(candidate.quality, 4)
        pick.agreement = None if agreed is None else round(float(agreed), 4)
        pick.set_faces = None if agreed is None else len(ranked.weights)
        pick.score = round(candidate.merit, 3)

    def judge_in_place_of(self, found: list[Candidate], ranked_face: Candidate) -> list[Candidate]:
        """Faces found after the ranking (other frames of a ranked face's moment) that beat that face, each
        judged as if it stood in the set in its place: its agreement with the set's other faces, its parts.
        Best first. As in the ranking, a face is embedded only where the agreement could lift it above the
        ranked face (`reach`), and its parts read only where it beats the face without them."""
        ranked, i = ranked_face.ranked_in
        self.settle_eyes(ranked)
        found = [c for c in found if c.merit + self.reach > ranked_face.merit]
        embeddings = self.embed(found).astype(np.float64) if found and ranked.weights is not None else [None] * len(found)
        agreed = [ranked.agreement(embedding, i) for embedding in embeddings]
        for candidate, agreement in zip(found, agreed):
            self._judge(candidate, agreement, ranked)
        beating = [(c, agreement) for c, agreement in zip(found, agreed) if c.merit > ranked_face.merit]
        read_parts([c for c, _ in beating], self.parts)
        for candidate, agreement in beating:
            self._judge(candidate, agreement, ranked)
        return sorted((c for c, _ in beating if c.merit > ranked_face.merit), key=Candidate.sort_key)


EmbedFn = Callable[[list[Candidate]], np.ndarray]
