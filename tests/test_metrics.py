"""The evaluation metrics on synthetic cases whose answers are known."""

import numpy as np
import pytest

from fqselect.research.metrics import DISCARD_GRID, PairSet, edc, pauc, perfect_edc, tar_at_far, template_selection, threshold_at_fmr


def synthetic_pairs(seed=0, people=60, per_person=6, dim=32, bad_share=0.2):
    """Unit embeddings: each person's faces near their centre, except a share of 'bad' faces that drift
    far from it (and therefore fail genuine comparisons)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, dim))
    identities = np.repeat(np.arange(people), per_person)
    bad = rng.random(len(identities)) < bad_share
    noise = np.where(bad[:, None], 3.0, 0.3)
    embeddings = centres[identities] + rng.normal(size=(len(identities), dim)) * noise
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings, identities, bad


def test_threshold_at_fmr_counts_impostors():
    impostor = np.arange(1000) / 1000.0
    t = threshold_at_fmr(impostor, 1e-2)
    assert 0.0089 < (impostor > t).mean() <= 0.01  # never more false matches than asked for


def test_oracle_quality_drives_fnmr_to_zero_once_failures_are_discarded():
    embeddings, identities, bad = synthetic_pairs()
    pairs = PairSet.from_embeddings(embeddings, identities)
    threshold = threshold_at_fmr(pairs.impostor, 1e-3)
    failing = pairs.genuine <= threshold
    # a per-face quality that is low exactly for faces in failing pairs
    quality = np.ones(len(identities))
    quality[np.unique(pairs.genuine_pairs[failing])] = 0.0
    curve = edc(pairs, quality)
    share_low = (np.minimum(*quality[pairs.genuine_pairs].T) == 0).mean()
    assert curve[0] == pytest.approx(failing.mean())
    assert np.all(curve[DISCARD_GRID >= share_low + 0.01] == 0.0)


def test_random_quality_stays_flat_and_perfect_is_a_lower_bound():
    embeddings, identities, bad = synthetic_pairs(seed=1)
    pairs = PairSet.from_embeddings(embeddings, identities)
    random_curve = edc(pairs, np.random.default_rng(5).random(len(identities)))
    assert np.abs(random_curve - random_curve[0]).max() < 0.05
    informed = edc(pairs, (~bad).astype(float) + 0.01 * np.random.default_rng(2).random(len(bad)))
    best = perfect_edc(pairs)
    assert np.all(best <= informed + 1e-9) and np.all(best <= random_curve + 1e-9)
    assert pauc(informed, 0.2) < pauc(random_curve, 0.2)


def test_constant_quality_is_exactly_flat():
    embeddings, identities, _ = synthetic_pairs(seed=3)
    pairs = PairSet.from_embeddings(embeddings, identities)
    curve = edc(pairs, np.ones(len(identities)))
    assert pauc(curve, 0.3) == pytest.approx(curve[0], abs=0.03)


def test_pauc_of_a_flat_curve_is_its_value():
    assert pauc(np.full(len(DISCARD_GRID), 0.1), 0.2) == pytest.approx(0.1)


def test_tar_at_far():
    assert tar_at_far(np.array([0.9, 0.8, 0.1]), np.linspace(0, 0.5, 1001), 1e-2) == pytest.approx(2 / 3)


def test_template_selection_rewards_a_scorer_that_avoids_bad_faces():
    embeddings, identities, bad = synthetic_pairs(seed=4, bad_share=0.4, per_person=8)
    good_scores = template_selection(embeddings, identities, (~bad).astype(float), splits=3)
    worst_scores = template_selection(embeddings, identities, bad.astype(float), splits=3)
    assert good_scores["top1"][1e-3][0] > worst_scores["top1"][1e-3][0] + 0.2
    for mode in ("top1", "top3", "weighted"):
        mean, std = good_scores[mode][1e-2]
        assert 0 <= mean <= 1 and std >= 0


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_identities():
    from fqselect.research.metrics import bootstrap_pauc

    def case(people):
        rng = np.random.default_rng(1)
        identities = np.repeat(np.arange(people), 6)
        quality = rng.random(len(identities))
        centres = rng.normal(size=(people, 32))
        noise = rng.normal(size=(len(identities), 32)) * (2.5 - 2 * quality[:, None])
        embeddings = centres[identities] + noise
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        pairs = PairSet.from_embeddings(embeddings, identities)
        return pauc(edc(pairs, quality), 0.2), bootstrap_pauc(pairs, identities, quality, resamples=200)[0.2]

    estimate, (low, high) = case(60)
    assert low <= estimate <= high
    _, (low_more, high_more) = case(240)
    assert high_more - low_more < high - low
