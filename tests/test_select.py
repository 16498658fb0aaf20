import numpy as np
import pytest

from fqselect.selection import Candidate, TopKSelector, greedy_picks


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
        assert len(selector.pool) <= selector.capacity  # memory bounded by k, not by the stream


def test_min_quality_filters():
    selector = TopKSelector(k=3, min_quality=0.6)
    for c in candidates([0.5, 0.7, 0.65], [0, 1, 2]):
        selector.offer(c)
    assert [c.quality for c in selector.picks()] == [0.7, 0.65]


def test_threshold_lets_callers_skip_hopeless_faces():
    selector = TopKSelector(k=2)
    assert selector.threshold() == 0.0
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
