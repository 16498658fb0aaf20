"""Alignment: the same crops as insightface's norm_crop, which the quality networks were trained on."""

import warnings

import numpy as np
import pytest

from fqselect.faces.align import ALIGNED_SIZE, TEMPLATE, align_faces, similarity_matrix
from fqselect.faces.batch import face_align


def random_landmarks(rng: np.random.Generator) -> np.ndarray:
    """The template turned, scaled, shifted and jittered, like a detector's landmarks of a real face."""
    angle, scale = rng.uniform(-0.6, 0.6), rng.uniform(0.4, 4.0)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return ((TEMPLATE - 56) @ rotation.T + rng.uniform(60, 600, 2) + rng.normal(0, 3, (5, 2))).astype(np.float32)


def test_similarity_matrix_is_norm_crops_transform():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-image >= 0.26 deprecates norm_crop's call
        for _ in range(100):
            points = random_landmarks(rng)
            np.testing.assert_allclose(similarity_matrix(points, TEMPLATE), face_align.estimate_norm(points, ALIGNED_SIZE),
                                       rtol=1e-6, atol=1e-4)  # float32 rounding in scikit-image


@pytest.mark.parametrize("size", [112, 224])
def test_crops_equal_norm_crop(size):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    landmarks = np.stack([random_landmarks(rng) for _ in range(4)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        expected = np.stack([face_align.norm_crop(image, p, image_size=size) for p in landmarks])
    got = align_faces(image, landmarks, size)
    assert got.shape == (4, size, size, 3)
    assert np.abs(got.astype(int) - expected).max() <= 1  # float rounding in the warp at most
