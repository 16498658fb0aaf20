"""Calibration of a quality network's score into a match probability (research/calibration.py) and the
scorer applying it (score.calibrated)."""

import numpy as np
import pytest

pytest.importorskip("scipy")

from fqselect.research.calibration import apply, calibration_error, fit_logistic, match_targets  # noqa: E402
from fqselect.quality.network import calibrated  # noqa: E402


def test_logistic_fit_recovers_the_map_that_made_the_outcomes():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.01, 0.99, 20000)
    outcome = (rng.random(len(raw)) < apply(raw, 2.0, -0.5)).astype(float)
    a, b = fit_logistic(raw, outcome)
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(-0.5, abs=0.1)
    assert calibration_error(apply(raw, a, b), outcome) < calibration_error(raw, outcome)


def test_calibration_keeps_the_order_and_is_identity_without_a_card_entry():
    raw = np.linspace(0.001, 0.999, 200).astype(np.float32)
    mapped = calibrated(raw, {"a": 3.0, "b": 1.0})
    assert np.all(np.diff(mapped) > 0)  # strictly increasing: rankings never change
    assert calibrated(raw, None) is raw


def test_match_targets_count_good_references_of_other_images_only():
    # identity 0: three clean images; face 3 is a degraded copy of image 0
    embeddings = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1]], np.float32)
    identity = np.array([0, 0, 0, 0])
    source = np.array([0, 1, 2, 0])
    reference = np.array([True, True, True, False])
    goodness = np.array([0.9, 0.8, 0.1, 0.0])  # the good half: images 0 and 1
    target = match_targets(embeddings, identity, source, reference, goodness, threshold=0.5)
    assert target[0] == 1.0  # against image 1 only (not itself)
    assert target[2] == pytest.approx(1.0)  # 0.6 > 0.5 against both good images
    assert target[3] == 0.0  # the degraded copy of image 0, against image 1 only: 0 < 0.5
