"""The top-k faces of one input by merit (what they are ranked by: choose/ranking.py), at least
`min_gap` seconds apart, none below --min-quality.

Streaming and exact: faces are offered one at a time and the picks are exactly the offline greedy's over
all of them; the selector keeps only the faces that could still become picks, never the whole video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Candidate:
    merit: float  # what ranks it
    time: float
    order: int  # arrival order; ties go to the earlier face, so results are deterministic
    payload: Any = field(default=None, compare=False)
    quality: float | None = None  # what --min-quality bounds (None: the merit itself)
    net: float | None = None  # the quality network's score, unrounded (None: the quality)
    ranked_in: Any = field(default=None, compare=False, repr=False)  # its set's ranking and its place in it

    def __post_init__(self):
        if self.quality is None:
            self.quality = self.merit
        if self.net is None:
            self.net = self.quality

    def sort_key(self) -> tuple[float, int]:
        return (-self.merit, self.order)


def greedy_picks(candidates: list[Candidate], k: int, min_gap: float) -> list[Candidate]:
    """Best first; a face is taken when it is at least min_gap seconds from every face already taken."""
    return greedy_choice(candidates, k, min_gap)[0]


def greedy_choice(candidates: list[Candidate], k: int, min_gap: float) -> tuple[list[Candidate], list[Candidate]]:
    """`greedy_picks`, and the faces it looked at to choose them, in the order it did (what else it took no
    notice of: the faces after these decide nothing while their merits stay below them)."""
    picks: list[Candidate] = []
    ordered = sorted(candidates, key=Candidate.sort_key)
    for looked, candidate in enumerate(ordered):
        if len(picks) == k:
            return picks, ordered[:looked]
        if all(abs(candidate.time - p.time) >= min_gap for p in picks):
            picks.append(candidate)
    return picks, ordered


def unblocked_stretches(spans: list[tuple[float, float]], taken: list[float], min_gap: float) -> list[tuple[float, float]]:
    """The parts of the time spans [start, end] at least min_gap from every taken time."""
    stretches = []
    for start, end in spans:
        pieces = [(start, end)]
        for t in taken:
            pieces = [(lo, hi) for a, b in pieces for lo, hi in ((a, min(b, t - min_gap)), (max(a, t + min_gap), b))
                      if lo <= hi]
        stretches.extend(pieces)
    return stretches


def separated_count(times: list[float], separation: float) -> int:
    """The most of these times that can be chosen pairwise at least `separation` apart (earliest first
    is optimal on a line)."""
    count, last = 0, -math.inf
    for t in sorted(times):
        if t - last >= separation:
            count, last = count + 1, t
    return count


def still_possible(pool: list[Candidate], k: int, min_gap: float) -> list[Candidate]:
    """The candidates that some future faces could still make picks, best first: the shortest prefix of
    the greedy order that holds k candidates pairwise at least 2·min_gap apart. Every candidate after
    it can be forgotten for good: greedy reaches k picks before it, whatever is offered later, because
    each pick blocks (is within min_gap of) at most one of those k, and later faces only add to the
    candidates ahead of it."""
    ordered = sorted(pool, key=Candidate.sort_key)
    if min_gap <= 0:
        return ordered[:k]
    for end in range(k, len(ordered) + 1):
        if separated_count([c.time for c in ordered[:end]], 2 * min_gap) >= k:
            return ordered[:end]
    return ordered


class TopKSelector:
    """Returns exactly the greedy top-k of everything offered (`greedy_picks` over the whole stream),
    keeping only the candidates that could still become picks (`still_possible`): in a video that is
    the faces of a few gaps' worth of time, whatever its length."""

    def __init__(self, k: int, min_gap: float = 0.0, min_quality: float = 0.0, slack: int | None = None):
        self.k = k
        self.min_gap = min_gap
        self.min_quality = min_quality
        # Candidates beyond those that could still matter kept before pruning again (None: as many again,
        # amortised for speed; a few, where each candidate holds its frame and memory counts).
        self.slack = slack
        self.pool: list[Candidate] = []
        self.offered = 0
        self.settled = False  # the pool holds k candidates 2·min_gap apart: worse faces cannot matter
        self._prune_at = 4 * k if slack is None else k + slack
        self._pruned = True

    def _prune(self) -> None:
        self.pool = still_possible(self.pool, self.k, self.min_gap)
        self.settled = len(self.pool) >= self.k and separated_count([c.time for c in self.pool], 2 * self.min_gap) >= self.k
        self._prune_at = max(4 * self.k, 2 * len(self.pool)) if self.slack is None else len(self.pool) + self.slack
        self._pruned = True

    def threshold(self) -> float:
        """Merit a new face must exceed to change anything (lets callers skip work for hopeless faces)."""
        if not self._pruned:
            self._prune()
        return min(c.merit for c in self.pool) if self.settled else -math.inf

    def could_pick(self, candidate: Candidate, margin: float = 0.0, quality_margin: float | None = None) -> bool:
        """Whether the candidate, were its merit `margin` better (and its quality `quality_margin`, by default
        as much), would be one of the picks now."""
        quality_margin = margin if quality_margin is None else quality_margin
        if candidate.quality + quality_margin < self.min_quality or candidate.merit + margin < self.threshold():
            return False
        boosted = Candidate(candidate.merit + margin, candidate.time, candidate.order)
        return any(c is boosted for c in greedy_picks(self.pool + [boosted], self.k, self.min_gap))

    def offer(self, candidate: Candidate) -> None:
        self.offered += 1
        if candidate.quality < self.min_quality:
            return
        self.pool.append(candidate)
        self._pruned = False
        if len(self.pool) >= self._prune_at:  # amortised: at the latest when the pool has doubled
            self._prune()

    def picks(self) -> list[Candidate]:
        return greedy_picks(self.pool, self.k, self.min_gap)
