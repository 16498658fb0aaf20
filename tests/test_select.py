import math

import numpy as np
import pytest

from fqselect.choose.topk import Candidate, TopKSelector, greedy_picks, unblocked_stretches


def candidates(qualities, times):
    return [Candidate(float(q), float(t), order=i) for i, (q, t) in enumerate(zip(qualities, times))]


def test_greedy_without_gap_is_plain_top_k():
    picks = greedy_picks(candidates([0.1, 0.9, 0.5, 0.7], [0, 1, 2, 3]), k=2, min_gap=0)
    assert [p.quality for p in picks] == [0.9, 0.7]


def test_min_gap_skips_near_duplicates():
    # three near-identical frames at t=1.0..1.2 and a worse one far away
    picks = greedy_picks(candidates([0.90, 0.89, 0.88, 0.5], [1.0, 1.1, 1.2, 5.0]), k=2, min_gap=1.0)
    assert [(p.quality, p.time) for p in picks] == [(0.90, 1.0), (0.5, 5.0)]


def test_ties_go_to_the_earlier_face():
    picks = greedy_picks(candidates([0.5, 0.5, 0.5], [0, 1, 2]), k=1, min_gap=0)
    assert picks[0].order == 0


@pytest.mark.parametrize("seed", range(20))
def test_streaming_selector_matches_offline_greedy(seed):
    rng = np.random.default_rng(seed)
    n = 300
    stream = candidates(rng.random(n), np.arange(n) / 10.0)
    for gap in (0.0, 0.5):
        selector = TopKSelector(k=3, min_gap=gap)
        for c in stream:
            selector.offer(c)
        assert [c.order for c in selector.picks()] == [c.order for c in greedy_picks(stream, 3, gap)]
        assert len(selector.pool) <= 60  # bounded by a few gaps of time, not by the stream's 300 faces


def test_min_quality_filters():
    selector = TopKSelector(k=3, min_quality=0.6)
    for c in candidates([0.5, 0.7, 0.65], [0, 1, 2]):
        selector.offer(c)
    assert [c.quality for c in selector.picks()] == [0.7, 0.65]


def test_picks_rank_by_merit_and_min_quality_bounds_quality():
    """Under --eyes open a face's merit is its quality times its eyes' openness: picks follow the merit,
    while --min-quality keeps its meaning (the quality, a match probability) whatever the eyes."""
    selector = TopKSelector(k=2, min_quality=0.6)
    winking = Candidate(0.3, 0.0, order=0, quality=0.95)  # the best quality, one eye shut
    open_eyed = Candidate(0.7, 1.0, order=1, quality=0.75)
    blurred = Candidate(0.55, 2.0, order=2, quality=0.55)  # eyes open, below --min-quality
    for candidate in (winking, open_eyed, blurred):
        selector.offer(candidate)
    assert selector.picks() == [open_eyed, winking]
    assert not selector.could_pick(Candidate(0.9, 3.0, order=3, quality=0.5))  # merit is not what the bound reads
    assert selector.could_pick(Candidate(0.4, 3.0, order=4, quality=0.9))  # beats the winking face's merit


def test_threshold_lets_callers_skip_hopeless_faces():
    selector = TopKSelector(k=2)
    assert selector.threshold() == -math.inf  # nothing is hopeless before k picks are possible
    for c in candidates([0.3, 0.8, 0.6], [0, 1, 2]):
        selector.offer(c)
    assert selector.threshold() == pytest.approx(0.6)


def test_could_pick_reflects_the_gap_and_the_margin():
    selector = TopKSelector(k=2, min_gap=1.0)
    for c in candidates([0.9, 0.8], [0.0, 5.0]):
        selector.offer(c)
    late, close = Candidate(0.85, 10.0, order=9), Candidate(0.95, 0.5, order=10)
    assert selector.could_pick(late)  # beats the 0.8 pick and is far from both
    assert not selector.could_pick(Candidate(0.75, 10.0, order=11))
    assert selector.could_pick(Candidate(0.79, 10.0, order=12), margin=0.02)  # within the margin
    assert selector.could_pick(close)  # displaces the 0.9 pick it is too close to
    assert not selector.could_pick(Candidate(0.88, 0.5, order=13))  # too close to a better pick
    assert len(selector.pool) == 2  # asking changes nothing


def _orders(rng, n):
    """Stream orders a video can produce and orders built to break a bounded selector."""
    times = np.sort(rng.uniform(0, n / 8.0, n))
    rising = np.linspace(0.1, 0.9, n) + rng.normal(0, 0.02, n)  # every new face beats the old ones
    falling = rising[::-1].copy()
    # a chain whose picks alternate, so that one better face late re-opens faces far back
    chain = np.where(np.arange(n) % 2 == 0, 0.9 - np.arange(n) / (4 * n), 0.5 - np.arange(n) / (4 * n))
    return [(times, rng.random(n)), (times, rising), (times, falling), (np.arange(n) * 0.45, chain),
            (rng.uniform(0, 20, n), rng.random(n))]  # not in time order at all


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("k,gap", [(1, 1.0), (3, 1.0), (3, 0.5), (5, 2.0), (3, 0.0)])
def test_streaming_selector_is_exactly_the_offline_greedy(seed, k, gap):
    rng = np.random.default_rng(seed)
    for times, qualities in _orders(rng, 400):
        stream = candidates(qualities, times)
        selector = TopKSelector(k=k, min_gap=gap)
        for c in stream:
            selector.offer(c)
        assert [c.order for c in selector.picks()] == [c.order for c in greedy_picks(stream, k, gap)]


def test_a_late_face_that_blocks_a_pick_brings_back_a_dropped_one():
    # picks at t=0 (0.9) and t=1.8 (0.85); 0.8 at t=0.9 is blocked; then 0.95 at t=2.5 blocks t=1.8
    stream = candidates([0.9, 0.8, 0.85, 0.4, 0.3, 0.2, 0.1, 0.95], [0.0, 0.9, 1.8, 5, 6, 7, 8, 2.5])
    selector = TopKSelector(k=3, min_gap=1.0)
    for c in stream:
        selector.offer(c)
    assert [c.quality for c in selector.picks()] == [c.quality for c in greedy_picks(stream, 3, 1.0)] == [0.95, 0.9, 0.4]


def test_time_ordered_streams_keep_a_bounded_pool():
    rng = np.random.default_rng(0)
    selector = TopKSelector(k=3, min_gap=1.0)
    for c in candidates(rng.random(20000), np.arange(20000) / 6.0):  # ~55 minutes at 6 faces a second
        selector.offer(c)
        assert len(selector.pool) <= 200


def test_unblocked_stretches_are_the_spans_at_least_min_gap_from_every_pick():
    spans = [(0.0, 0.96), (1.0, 1.96), (2.0, 2.56)]
    free = unblocked_stretches(spans, [1.4], 1.0)
    assert np.allclose(free, [(0.0, 0.4), (2.4, 2.56)])
    assert unblocked_stretches(spans, [0.5, 2.0], 1.0) == []  # every span blocked
    assert unblocked_stretches([(0.0, 3.0)], [1.0, 2.0], 0.5) == [(0.0, 0.5), (1.5, 1.5), (2.5, 3.0)]


def test_pickable_windows_find_the_windows_that_hold_given_times_and_forget_when_told():
    from fqselect.decode import Frame
    from fqselect.run.job import PickableWindows
    from fqselect.decode.prescreen import Window

    pickable = PickableWindows()
    face = candidates([0.9], [0.0])
    for start in (0.0, 1.0, 2.0, 5.0):
        frame = Frame(int(start * 25), start, np.zeros((4, 4, 3), np.uint8), "clip")
        pickable.note(Window([frame], 25, start, start + 0.96), frame, face, min_quality=0.5)
    empty = Frame(75, 3.0, np.zeros((4, 4, 3), np.uint8), "clip")
    pickable.note(Window([empty], 25, 3.0, 3.96), empty, [], min_quality=0.5)  # no face: not a pickable window
    assert pickable.holding([0.5, 2.2, 3.5, 4.99, 5.0]) == [(0.0, 0.96), (2.0, 2.96), (5.0, 5.96)]
    assert pickable.analysed == {0, 25, 50, 75, 125}
    pickable.forget()
    pickable.note(Window([empty], 25, 6.0, 6.96), empty, face, min_quality=0.5)
    assert pickable.spans == [] and pickable.analysed == set()
