"""Stage 5 — selection: the top-k faces of one input by quality, at least `min_gap` seconds apart.

Streaming and bounded: faces are offered one at a time; the selector keeps only the current picks and a
small reserve of runners-up (with their frames), never the whole video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RESERVE_PER_PICK = 2  # runners-up kept per pick, for when a better face later displaces a pick


@dataclass
class Candidate:
    quality: float
    time: float
    order: int  # arrival order; ties go to the earlier face, so results are deterministic
    payload: Any = field(default=None, compare=False)

    def sort_key(self) -> tuple[float, int]:
        return (-self.quality, self.order)


def greedy_picks(candidates: list[Candidate], k: int, min_gap: float) -> list[Candidate]:
    """Best first; a face is taken when it is at least min_gap seconds from every face already taken."""
    picks: list[Candidate] = []
    for candidate in sorted(candidates, key=Candidate.sort_key):
        if len(picks) == k:
            break
        if all(abs(candidate.time - p.time) >= min_gap for p in picks):
            picks.append(candidate)
    return picks


class TopKSelector:
    """Keeps the greedy top-k of everything offered, with memory bounded by k, not by input length."""

    def __init__(self, k: int, min_gap: float = 0.0, min_quality: float = 0.0):
        self.k = k
        self.min_gap = min_gap
        self.min_quality = min_quality
        self.pool: list[Candidate] = []
        self.offered = 0
        self.capacity = k * (1 + RESERVE_PER_PICK) if min_gap > 0 else k

    def threshold(self) -> float:
        """Quality a new face must exceed to change anything (lets callers skip work for hopeless faces)."""
        # A face worse than the whole full pool is dropped at once, unless the picks are still short of k
        # (then, with a gap, even a worse face far enough in time would be taken).
        if len(self.pool) < self.capacity or len(greedy_picks(self.pool, self.k, self.min_gap)) < self.k:
            return self.min_quality
        return max(self.min_quality, min(c.quality for c in self.pool))

    def could_pick(self, candidate: Candidate, margin: float = 0.0) -> bool:
        """Whether the candidate, were it `margin` better, would be one of the picks now."""
        if candidate.quality + margin < self.threshold():
            return False
        boosted = Candidate(candidate.quality + margin, candidate.time, candidate.order)
        return any(c is boosted for c in greedy_picks(self.pool + [boosted], self.k, self.min_gap))

    def offer(self, candidate: Candidate) -> None:
        self.offered += 1
        if candidate.quality < self.min_quality:
            return
        self.pool.append(candidate)
        if len(self.pool) > self.capacity:
            picks = greedy_picks(self.pool, self.k, self.min_gap)
            chosen = {id(c) for c in picks}
            rest = sorted((c for c in self.pool if id(c) not in chosen), key=Candidate.sort_key)
            self.pool = picks + rest[: self.capacity - len(picks)]

    def picks(self) -> list[Candidate]:
        return greedy_picks(self.pool, self.k, self.min_gap)
