"""Pickers: what the per-input job hands each analysed frame's faces to, and what chooses the picks.

A `Picker` takes a frame's faces as they come (`offer`), says which of them are worth searching near in
the window's next frame, searches the stretches of video its picks' gap left unseen (`fill_gaps`), and
gives the picks at the end (`finish`). `TopKPicker` picks the input's best faces; `PersonPicker` links
faces into persons and picks each person's best. The job does not know which one it drives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from ..records import Person
from .persons import PersonTracker
from .topk import Candidate, TopKSelector, unblocked_stretches

# A face this close to becoming a pick sends the window's next-sharpest frame to the detector too: a
# face's quality also moves with small changes of pose and landmark placement between frames, which
# sharpness does not see. In log-odds: qualities are calibrated probabilities that crowd near 1 for good
# faces, where a fixed margin in quality would let nearly every good face through (docs/benchmarks.md).
REFINE_LOG_ODDS = 0.5


def refine_margin(quality: float) -> float:
    """REFINE_LOG_ODDS as a difference in quality at this quality."""
    q = min(max(quality, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(q / (1 - q)) + REFINE_LOG_ODDS))) - q


@dataclass
class Selection:
    """What a picker chose: groups of picks, best first within each (one group, or one a person), the
    persons (--per-person), and how many faces the recogniser embedded to link them."""

    groups: list[list[Candidate]]
    persons: list[Person] = field(default_factory=list)
    embedded: int = 0


class GapSearch(Protocol):
    """What the job offers a picker for searching stretches of video again."""

    spans: list[tuple[float, float]]  # the windows that held a pickable face

    def holding(self, times: list[float]) -> list[tuple[float, float]]:
        """The spans that hold one of these times."""

    def windows(self, stretches: list[tuple[float, float]], keep: int | None = None) -> Iterator:
        """Each stretch decoded again as one window of its `keep` sharpest frames not analysed yet (None:
        as many as a window of the first pass)."""

    def analyse(self, window) -> None:
        """A window analysed as any other (its faces offered to the picker)."""

    def search_near(self, frame, faces: list[Candidate]) -> list[Candidate]:
        """The faces found in `frame` near `faces`."""


class Picker(Protocol):
    settled: bool  # True once no face offered later can lose a pick to the gap (gap bookkeeping can stop)

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        """A frame's faces: found in the whole frame, or in the regions of `near` (faces of the window's
        frame before). Returns the faces worth searching near in the window's next frame."""

    def fill_gaps(self, search: GapSearch) -> None:
        """Fewer picks than asked for although pickable faces were seen: search what the gap left unseen."""

    def finish(self) -> Selection:
        """The picks."""


class TopKPicker:
    """The input's `k` best faces, `min_gap` seconds apart (`TopKSelector`, exact over the stream)."""

    def __init__(self, k: int, min_gap: float, min_quality: float):
        self.k, self.min_gap = k, min_gap
        self.selector = TopKSelector(k, min_gap, min_quality)

    @property
    def settled(self) -> bool:
        return self.selector.settled  # it holds k faces 2·min_gap apart: no pick can be lost to the gap

    def offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        """Each face is judged against the others of its frame too, offered first: of six people in one
        moment only the best can be that moment's pick, so the others' regions are not searched again."""
        for candidate in faces:
            self.selector.offer(candidate)
        return [c for c in faces if self.selector.could_pick(c, refine_margin(c.merit))]

    def fill_gaps(self, search: GapSearch) -> None:
        """A window's analysed frames can all lie within --min-gap of a pick while other frames of that
        window do not (a 3-s clip whose windows' sharpest frames fall mid-second): those stretches are
        decoded again and analysed as windows of their own."""
        taken = [c.time for c in self.selector.picks()]
        if len(taken) < self.k:
            for window in search.windows(unblocked_stretches(search.spans, taken, self.min_gap)):
                search.analyse(window)

    def finish(self) -> Selection:
        return Selection([self.selector.picks()])


class PersonPicker:
    """Faces linked into persons (`PersonTracker`); each person's `k` best faces."""

    settled = False  # a new person can appear at any time

    def __init__(self, k: int, min_gap: float, min_quality: float, recognizer, gallery=None):
        self.k, self.min_gap = k, min_gap
        self.tracker = PersonTracker(k, min_gap, min_quality, recognizer)
        self.gallery = gallery
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
        if any(t.selector.could_pick(c, refine_margin(c.merit)) for c, t in zip(self._faces, self._tracks)):
            return self._faces
        return []

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

    def finish(self) -> Selection:
        persons = self.tracker.persons(self.gallery)
        for person in persons:
            for candidate in person.picks:
                pick = candidate.payload
                pick.person, pick.identity = person.id, person.identity
                pick.similarity = None if person.similarity is None else round(float(person.similarity), 4)
        return Selection([person.picks for person in persons], persons, self.tracker.embedded)
