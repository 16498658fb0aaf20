"""Pickers: what the per-input job hands each analysed frame's faces to, and what chooses the picks.

A `Picker` takes a frame's faces as they come (`offer`), says which of them are worth searching near in
the window's next frame, searches the stretches of video its picks' gap left unseen (`fill_gaps`), and
gives the picks at the end (`finish`). `TopKPicker` picks the input's best faces, each ranked within its
set (the person a tracker links it to in a video, the whole folder for a folder input); `PersonPicker`
links faces into persons and picks each person's best. The job does not know which one it drives.
"""

from __future__ import annotations

import heapq
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from ..quality.agreement import MIN_SET
from ..records import Person
from .persons import MERGE_MAX_OVERLAP, TEMPLATE_FACES, PersonTracker, Track, shared_seconds
from .ranking import EMBED_BUDGET, SHORTLIST, SetRanker
from .topk import Candidate, TopKSelector, greedy_choice, greedy_picks, separated_count, unblocked_stretches

# A face this close to becoming a pick sends the window's next-sharpest frame to the detector too: a
# face's quality also moves with small changes of pose and landmark placement between frames, which
# sharpness does not see. Merits are log-odds, so the margin is one too (docs/benchmarks.md).
REFINE_LOG_ODDS = 0.5
# The pre-screen sends a window's sharpest frames to the detector, so a ranked face is the best of the
# frames analysed, not of its moment: at the end the moments of the faces that could be the first pick
# (this many seconds either side, every frame) are searched again near the face, and the network's best
# of what is found judged in the face's place (docs/sets.md).
POLISH_MOMENTS = 2
POLISH_SECONDS = 0.15
POLISH_FRAMES = 10
POLISH_JUDGED = 2
LIKELY_TRACKS = EMBED_BUDGET // MIN_SET  # tracks whose faces are measured ahead (choose/ahead.py)


def refine_margin(quality: float) -> float:
    """REFINE_LOG_ODDS as a difference in quality at this quality."""
    q = min(max(quality, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(q / (1 - q)) + REFINE_LOG_ODDS))) - q


def promising(selector: TopKSelector, candidate: Candidate) -> bool:
    return selector.could_pick(candidate, REFINE_LOG_ODDS, refine_margin(candidate.quality))


def choose(ranked: list[Candidate], others: list[Candidate], k: int, min_gap: float, min_quality: float) -> list[Candidate]:
    """Best first, at least `min_gap` apart: `ranked` by their final merit, then `others` by the streaming
    merit; a face that would leave fewer picks possible than k (or than the candidates allow at all) is
    passed over, so that a short clip still gets as many picks as its moments allow."""
    picks = choice(ranked, others, k, min_gap, min_quality)[0]
    for pick in picks:  # those the ranking never reached are ranked by the network: say so
        if pick.payload is not None and pick.payload.score is None:
            pick.payload.score = round(pick.merit, 3)
    return picks


def choice(ranked: list[Candidate], others: list[Candidate], k: int, min_gap: float,
           min_quality: float) -> tuple[list[Candidate], list[Candidate]]:
    """`choose`'s picks, and the faces it looked at to choose them, in the order it did."""
    pool = [c for c in ranked + sorted(others, key=Candidate.sort_key) if c.quality >= min_quality]
    order = sorted(pool[: len(ranked)], key=Candidate.sort_key) + pool[len(ranked):]
    wanted = min(k, separated_count([c.time for c in pool], min_gap))
    picks: list[Candidate] = []
    for looked, candidate in enumerate(order):
        if len(picks) >= wanted:
            return picks, order[:looked]
        taken = picks + [candidate]
        if any(abs(candidate.time - p.time) < min_gap for p in picks):
            continue
        free = [c.time for c in pool if all(abs(c.time - p.time) >= min_gap for p in taken)]
        if len(taken) + separated_count(free, min_gap) >= wanted:
            picks.append(candidate)
    return picks, order


@dataclass
class Selection:
    """What a picker chose: groups of picks, best first within each (one group, or one a person), the
    persons (--per-person), and how many faces the recogniser embedded."""

    groups: list[list[Candidate]]
    persons: list[Person] = field(default_factory=list)
    embedded: int = 0


class GapSearch(Protocol):
    """What the job offers a picker for searching stretches of video again."""

    spans: list[tuple[float, float]]  # the windows that held a pickable face

    def holding(self, times: list[float]) -> list[tuple[float, float]]:
        """The spans that hold one of these times."""

    def windows(self, stretches: list[tuple[float, float]], keep: int | None = None, every_frame: bool = False) -> Iterator:
        """Each stretch decoded again as one window of its `keep` sharpest frames not analysed yet (None:
        as many as a window of the first pass; `every_frame`: non-reference frames decoded too)."""

    def analyse(self, window) -> None:
        """A window analysed as any other (its faces offered to the picker)."""

    def search_near(self, frame, faces: list[Candidate]) -> list[Candidate]:
        """The faces found in `frame` near `faces`."""


class Picker(Protocol):
    settled: bool  # True once no face offered later can lose a pick to the gap (gap bookkeeping can stop)
    ranker: SetRanker  # what ranks each set at the end

    def likely(self) -> list[Candidate]:
        """The faces the ranking at the end will most likely measure, most likely first (so far)."""

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        """A frame's faces: found in the whole frame, or in the regions of `near` (faces of the window's
        frame before). Returns the faces worth searching near in the window's next frame."""

    def fill_gaps(self, search: GapSearch) -> None:
        """Fewer picks than asked for although pickable faces were seen: search what the gap left unseen."""

    def finish(self, search: GapSearch | None = None) -> Selection:
        """The picks; with `search` (a pre-screened video), the moments that could give the first pick
        searched again."""


class Sets(Protocol):
    """Which faces belong together (one person's): what the final ranking measures agreement within. The
    faces come in parts (a track, a folder), the part holding the best face first; a part joins a set."""

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> None: ...

    def parts(self) -> list[list[Candidate]]: ...

    def likely(self, ranker: SetRanker, k: int) -> list[Candidate]:
        """What `Picker.likely` asks, for these sets."""

    def join(self, part: int) -> int:
        """The id of the set part `part` belongs to: an earlier part's set, or a new one."""


class OneSet:
    """Every face of the input is one set: a folder of one person's photos (one template), or an input
    ranked by the network alone (with `gap` = --min-gap, so that its picks are exactly the network's)."""

    def __init__(self, k: int, gap: float = 0.0):
        self.pool = TopKSelector(max(SHORTLIST, k), gap)

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> None:
        for candidate in faces:
            self.pool.offer(candidate)

    def parts(self) -> list[list[Candidate]]:
        return [self.pool.pool] if self.pool.pool else []

    def likely(self, ranker: SetRanker, k: int) -> list[Candidate]:
        return ranker.shortlist(self.pool.pool, ranker.shortlist_size(1, k), k)

    def join(self, part: int) -> int:
        return 0


class TrackedSets:
    """A video's faces, linked into tracks by a tracker; tracks whose templates match (as `merge_tracks`
    finds persons) are one set. A track's template is embedded only when the track joins, so the tracks
    whose faces cannot reach the picks are never embedded."""

    def __init__(self, tracker: PersonTracker):
        self.tracker = tracker
        self._tracks: dict[int, object] = {}  # the last offered faces' tracks, by the face's id
        self._parts: list[Track] = []
        self._joined: list[tuple[Track, np.ndarray, int]] = []  # track, template, set id

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> None:
        if near is None:
            tracks = self.tracker.update(faces)
        else:
            faces, tracks = self.tracker.refine(faces, near, [self._tracks[id(c)] for c in near])
        self._tracks = {id(c): t for c, t in zip(faces, tracks)}

    def parts(self) -> list[list[Candidate]]:
        tracks = [t for t in self.tracker.finished + self.tracker.active if t.selector.picks()]
        self._parts = sorted(tracks, key=lambda t: min(c.sort_key() for c in t.pool.pool))
        return [t.pool.pool for t in self._parts]

    def likely(self, ranker: SetRanker, k: int) -> list[Candidate]:
        """The LIKELY_TRACKS tracks with the best faces, as `likely_faces` takes them."""
        tracks = [t for t in self.tracker.finished + self.tracker.active if t.pool.pool]
        return likely_faces(heapq.nlargest(LIKELY_TRACKS, tracks, key=best_merit), ranker, k,
                            rankable([t.pool.pool for t in tracks]), self.template_faces)

    @staticmethod
    def template_faces(track: Track) -> list[Candidate]:
        """The TEMPLATE_FACES best faces of the track's pool: they are most of its set's shortlist too, so
        joining embeds few faces the ranking does not."""
        return sorted(track.pool.pool, key=Candidate.sort_key)[:TEMPLATE_FACES]

    def join(self, part: int) -> int:
        """The set of the most alike track joined before whose template matches at the recogniser's FMR
        1e-3 point and with which this one shares frames for at most MERGE_MAX_OVERLAP seconds; else a new
        set."""
        track = self._parts[part]
        template = self.tracker.template(self.template_faces(track))
        chosen = len({set_id for *_, set_id in self._joined})  # a new set, unless one fits
        for similarity, set_id in sorted(((float(template @ other), set_id) for _, other, set_id in self._joined), reverse=True):
            if similarity < self.tracker.recognizer.points["match"]:
                break
            if all(shared_seconds(track, member) <= MERGE_MAX_OVERLAP for member, _, s in self._joined if s == set_id):
                chosen = set_id
                break
        self._joined.append((track, template, chosen))
        return chosen


class TopKPicker:
    """The input's `k` best faces, `min_gap` seconds apart. While the input streams, faces are screened by
    the network (`TopKSelector`, exact over the stream: what refinement and gap filling ask); at the end
    each set's shortlist is ranked (`SetRanker`) and the k best of all sets are the picks."""

    def __init__(self, k: int, min_gap: float, min_quality: float, sets: Sets, ranker: SetRanker):
        self.k, self.min_gap, self.min_quality = k, min_gap, min_quality
        self.selector = TopKSelector(k, min_gap, min_quality)
        self.sets, self.ranker = sets, ranker

    @property
    def settled(self) -> bool:
        return self.selector.settled  # it holds k faces 2·min_gap apart: no pick can be lost to the gap

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        """Each face is judged against the others of its frame too, offered first: of six people in one
        moment only the best can be that moment's pick, so the others' regions are not searched again."""
        for candidate in faces:
            self.selector.offer(candidate)
        self.sets.offer(faces, near)
        return [c for c in faces if promising(self.selector, c)]

    def likely(self) -> list[Candidate]:
        return self.sets.likely(self.ranker, self.k)

    def fill_gaps(self, search: GapSearch) -> None:
        """A window's analysed frames can all lie within --min-gap of a pick while other frames of that
        window do not (a 3-s clip whose windows' sharpest frames fall mid-second): those stretches are
        decoded again and analysed as windows of their own."""
        taken = [c.time for c in self.selector.picks()]
        if len(taken) < self.k:
            for window in search.windows(unblocked_stretches(search.spans, taken, self.min_gap)):
                search.analyse(window)

    def finish(self, search: GapSearch | None = None) -> Selection:
        parts = self.sets.parts()
        ranked = self.rank_sets(parts)
        ranked_ids = set(map(id, ranked))
        others = [c for faces in parts for c in faces if id(c) not in ranked_ids]
        if search is not None:
            ranked = self.polish(ranked, search)
        picks = final_choice(self.ranker, ranked, others, self.k, self.min_gap, self.min_quality)
        embedded = self.ranker.embed.embedded if self.ranker.embed else 0
        return Selection([picks], embedded=embedded)

    def rank_sets(self, parts: list[list[Candidate]]) -> list[Candidate]:
        """Each set's shortlist ranked, best part first, until no face of the parts left can reach the
        picks: a face's final merit is at most its streaming merit plus the ranker's `reach`, so a part
        whose best face falls short of the k-th pick so far by more is never embedded (nor any after it)."""
        size = self.ranker.shortlist_size(rankable(parts), self.k)
        members: dict[int, list[Candidate]] = {}
        ranked: dict[int, list[Candidate]] = {}
        for part, faces in enumerate(parts):
            if max(c.merit for c in faces) + self.ranker.reach < self.kth_merit([c for r in ranked.values() for c in r]):
                break
            set_id = self.sets.join(part)
            self.ranker.unrank(members.get(set_id, []))
            members[set_id] = members.get(set_id, []) + faces
            ranked[set_id] = self.ranker.rank(members[set_id], size, self.k)
        return [c for faces in ranked.values() for c in faces]

    def kth_merit(self, ranked: list[Candidate]) -> float:
        """The merit of the k-th of the greedy picks among these faces (-inf while they make fewer), with
        the parts of the faces it looks at read."""
        pickable = [c for c in ranked if c.quality >= self.min_quality]
        self.ranker.settle_parts(lambda: greedy_choice(pickable, self.k, self.min_gap)[1])
        picks = greedy_picks(pickable, self.k, self.min_gap)
        return picks[-1].merit if len(picks) == self.k else -math.inf

    def polish(self, ranked: list[Candidate], search: GapSearch) -> list[Candidate]:
        """The moments of the ranked faces that could be the first pick (at most POLISH_MOMENTS, within
        REFINE_LOG_ODDS of the best) searched again, each on a thread of its own (decoding ended: the
        cores are free), each face replaced by a better one of its moment where one is found (`polished`)."""
        self.ranker.settle_parts(lambda: sorted(ranked, key=Candidate.sort_key)[:POLISH_MOMENTS])
        order = sorted(ranked, key=Candidate.sort_key)[:POLISH_MOMENTS]
        bar = order[0].merit - REFINE_LOG_ODDS if order else math.inf
        faces = [c for c in order if c.merit >= bar and c.ranked_in is not None]
        if not faces:
            return ranked
        with ThreadPoolExecutor(len(faces), thread_name_prefix="fqselect-polish") as threads:
            found = list(threads.map(lambda face: self.found_near(face, search), faces))
        better = {id(face): self.polished(face, near) for face, near in zip(faces, found)}
        return [better.get(id(c), c) for c in ranked]

    def found_near(self, face: Candidate, search: GapSearch) -> list[Candidate]:
        """Every frame around the face that its set did not rank, searched near it: the network's
        POLISH_JUDGED best of the faces found."""
        ranked_frames = face.ranked_in[0].frames
        stretch = (max(0.0, face.time - POLISH_SECONDS), face.time + POLISH_SECONDS)
        found = [other for window in search.windows([stretch], POLISH_FRAMES, every_frame=True) for frame in window.frames
                 if frame.index not in ranked_frames for other in search.search_near(frame, [face])]
        return sorted((c for c in found if c.quality >= self.min_quality), key=Candidate.sort_key)[:POLISH_JUDGED]

    def polished(self, face: Candidate, found: list[Candidate]) -> Candidate:
        """The best of the faces found around a ranked face that score higher, judged in its place
        (`SetRanker.judge_in_place_of`); else the face."""
        beating = self.ranker.judge_in_place_of(found, face) if found else []
        return beating[0] if beating else face


class PersonPicker:
    """Faces linked into persons (`PersonTracker`); each person's `k` best faces, ranked within the
    person's set."""

    settled = False  # a new person can appear at any time

    def __init__(self, k: int, min_gap: float, min_quality: float, tracker: PersonTracker, ranker: SetRanker,
                 gallery=None):
        self.k, self.min_gap, self.min_quality = k, min_gap, min_quality
        self.tracker, self.ranker, self.gallery = tracker, ranker, gallery
        self._faces: list[Candidate] = []  # the faces offered last, and their tracks
        self._tracks: list = []

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        """A whole frame's faces are linked to tracks; faces found near the frame before's go to the track
        of the face whose region they are in. While one of them could still become one of its person's
        picks, all of them are searched near in the next frame."""
        if near is None:
            self._faces, self._tracks = faces, self.tracker.update(faces)
        else:
            self._faces, self._tracks = self.tracker.refine(faces, near, self._tracks)
        if any(promising(t.selector, c) for c, t in zip(self._faces, self._tracks)):
            return self._faces
        return []

    def likely(self) -> list[Candidate]:
        """The tracks in view and those LIKELY_TRACKS that ended last: what ended before has been measured."""
        tracks = [t for t in self.tracker.finished[-LIKELY_TRACKS:] + self.tracker.active if t.pool.pool]
        return likely_faces(sorted(tracks, key=best_merit, reverse=True), self.ranker, self.k,
                            len(self.tracker.finished) + len(self.tracker.active), lambda track: track.best.picks())

    def fill_gaps(self, search: GapSearch) -> None:
        """For each track with fewer picks than `k`: the sharpest frame of each stretch of its windows left
        free by its picks is searched near its face closest in time, and what is found joins the track."""
        for track in self.tracker.finished + self.tracker.active:
            faces = track.selector.pool  # all of its faces while it has fewer than k picks (nothing is pruned)
            taken = [c.time for c in track.selector.picks()]
            if len(taken) >= self.k or not faces:
                continue
            stretches = unblocked_stretches(search.holding([c.time for c in faces]), taken, self.min_gap)
            for window in search.windows(stretches, keep=1):
                anchor = min(faces, key=lambda c: abs(c.time - window.frames[0].time))
                self.tracker.refine(search.search_near(window.frames[0], [anchor]), [anchor], [track])

    def finish(self, search: GapSearch | None = None) -> Selection:
        persons = self.tracker.persons(self.gallery)
        for person in persons:
            pick_within(person, self.ranker, self.k, self.min_gap, self.min_quality, len(persons))
        persons = [person for person in persons if person.picks]
        for number, person in enumerate(persons):  # in order of first appearance, as the tracker numbered them
            person.id = number
            mark_person(person)
        return Selection([person.picks for person in persons], persons, self.tracker.embedded)


def rankable(parts: list[list[Candidate]]) -> int:
    """How many of these parts hold enough faces to be ranked as a set of their own (MIN_SET)."""
    return sum(len(faces) >= MIN_SET for faces in parts)


def best_merit(track: Track) -> float:
    return max(c.merit for c in track.pool.pool)


def likely_faces(tracks: list[Track], ranker: SetRanker, k: int, sets: int,
                 templates: Callable[[Track], list[Candidate]]) -> list[Candidate]:
    """Each track's template faces, then its shortlist as if it were a set of its own among `sets`, track
    after track: the faces a ranking of these tracks will most likely measure."""
    size = ranker.shortlist_size(sets, k)
    return [c for track in tracks for c in (*templates(track), *ranker.shortlist(track.pool.pool, size, k))]


def pick_within(person: Person, ranker: SetRanker, k: int, min_gap: float, min_quality: float, sets: int = 1) -> None:
    """The person's `k` picks (`person.picks`), ranked within the person's own faces."""
    ranked = ranker.rank(person.candidates, ranker.shortlist_size(sets, k), k)
    others = [c for c in person.candidates if not any(c is r for r in ranked)]
    person.picks = final_choice(ranker, ranked, others, k, min_gap, min_quality)


def final_choice(ranker: SetRanker, ranked: list[Candidate], others: list[Candidate], k: int, min_gap: float,
                 min_quality: float) -> list[Candidate]:
    """The picks among a ranking's faces (`choose`): the parts of the faces the choice reaches read first,
    the faces the shortlists left out ranked beside their sets where it reaches past them
    (`reach_outside`); then the sets let go of the faces they hold."""
    ranker.settle_parts(lambda: choice(ranked, others, k, min_gap, min_quality)[1])
    ranked, others = reach_outside(ranker, ranked, others, k, min_gap, min_quality)
    picks = choose(ranked, others, k, min_gap, min_quality)
    ranker.release(ranked)
    return picks


def reach_outside(ranker: SetRanker, ranked: list[Candidate], others: list[Candidate], k: int, min_gap: float,
                  min_quality: float) -> tuple[list[Candidate], list[Candidate]]:
    """Where the choice takes faces the sets' shortlists left out (a short clip whose shortlist crowds
    around the first picks), each such face's set ranks its free faces beside it (`SetRanker.rank_outside`)
    and they join the ranked faces: the choice then weighs them on the same scale, with their agreement
    and parts, not by the network alone. Once an input: what is still outside after it ranks as before."""
    picks = choice(ranked, others, k, min_gap, min_quality)[0]
    inside = set(map(id, ranked))
    outside = [p for p in picks if id(p) not in inside]
    if not outside or not ranker.set_aware:
        return ranked, others
    taken = [p for p in picks if id(p) in inside]
    sets = {id(s): s for s in (c.ranked_in[0] for c in ranked if c.ranked_in is not None)}.values()
    reached = [s for s in sets if any(p is c for p in outside for c in s.outside)]
    size = ranker.shortlist_size(len(reached), k)
    added = [c for s in reached for c in ranker.rank_outside(s, taken, size, k)]
    if not added:
        return ranked, others
    joined = set(map(id, added))
    ranked, others = ranked + added, [c for c in others if id(c) not in joined]
    ranker.settle_parts(lambda: choice(ranked, others, k, min_gap, min_quality)[1])
    return ranked, others


def mark_person(person: Person) -> None:
    """The person's id and name on each of its picks."""
    for candidate in person.picks:
        pick = candidate.payload
        pick.person, pick.identity = person.id, person.identity
        pick.similarity = None if person.similarity is None else round(float(person.similarity), 4)
