import cv2
import numpy as np
import pytest

from fqselect.research import degrade
from fqselect.faces.align import TEMPLATE, align_faces
from fqselect.faces.retinaface import RetinaFaceDetector
from fqselect.faces.batch import FaceBatch
from fqselect.errors import UsageError
from fqselect.quality import load_scorer
from fqselect.quality.perceptual import PERCEPTUAL, BlurScorer, CombinedScorer, JpegScorer, PoseScorer, SizeScorer


@pytest.fixture(scope="module")
def photo_faces(face_photo):
    image = cv2.imread(str(face_photo))
    detections = RetinaFaceDetector().detect(image)
    assert len(detections) == 6  # the wheel's group photo has six people
    return image, detections


def crops_of(image, detections):
    return align_faces(image, detections.landmarks)


@pytest.mark.parametrize("name", sorted(PERCEPTUAL))
def test_every_perceptual_scorer_is_in_unit_range(name, photo_faces):
    image, detections = photo_faces
    batch = FaceBatch(detections.boxes, detections.det_scores, detections.landmarks, crops_of(image, detections),
                      [image[int(b[1]):int(b[3]), int(b[0]):int(b[2])] for b in detections.boxes])
    scores = load_scorer(name).score(batch)
    assert scores.shape == (6,) and scores.dtype == np.float32
    assert np.all((scores >= 0) & (scores <= 1))


def test_blur_drops_with_defocus_and_motion(photo_faces):
    image, detections = photo_faces
    sharp = FaceBatch.from_crops(crops_of(image, detections))
    blurred = FaceBatch.from_crops(crops_of(degrade.defocus(image, 4.0), detections))
    smeared = FaceBatch.from_crops(crops_of(degrade.motion_blur(image, 25), detections))
    blur = BlurScorer()
    assert np.all(blur.score(blurred) < blur.score(sharp))
    assert np.all(blur.score(smeared) < blur.score(sharp))


def test_blur_ignores_the_black_fill_outside_the_frame(photo_faces):
    image, detections = photo_faces
    crop = crops_of(degrade.defocus(image, 4.0), detections)[:1]
    half_outside = crop.copy()
    half_outside[:, :, 70:] = 0  # as alignment leaves a face cut by the frame edge
    blur = BlurScorer()
    assert blur.score(FaceBatch.from_crops(half_outside))[0] <= blur.score(FaceBatch.from_crops(crop))[0] + 0.05


def test_jpeg_scorer_sees_blocking():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3)).astype(np.uint8), (0, 0), 3)
    scorer = JpegScorer()
    clean = FaceBatch.from_crops(np.stack([cv2.resize(smooth, (112, 112))]))
    clean.regions = [smooth]
    blocky = FaceBatch.from_crops(np.stack([cv2.resize(smooth, (112, 112))]))
    blocky.regions = [degrade.jpeg(smooth, 5)]
    assert scorer.score(blocky)[0] < 0.5 < scorer.score(clean)[0]


def test_pose_prefers_the_template_over_a_turned_face():
    frontal = TEMPLATE[None].astype(np.float32)
    turned = frontal.copy()
    turned[0, 2, 0] += 14  # nose far towards one eye: a strong yaw
    batch = FaceBatch.from_crops(np.zeros((2, 112, 112, 3), np.uint8))
    batch.landmarks = np.concatenate([frontal, turned])
    scores = PoseScorer().score(batch)
    assert scores[0] > 0.95 and scores[1] < 0.3


def test_size_saturates_at_the_crop_resolution():
    batch = FaceBatch.from_crops(np.zeros((3, 112, 112, 3), np.uint8))
    batch.landmarks = np.stack([TEMPLATE * s for s in (0.25, 1.0, 3.0)]).astype(np.float32)
    assert SizeScorer().score(batch).tolist() == pytest.approx([0.25, 1.0, 1.0], abs=1e-3)


def test_combined_is_low_when_any_part_is_low(photo_faces):
    image, detections = photo_faces
    crops = crops_of(degrade.defocus(image, 6.0), detections)
    assert np.all(CombinedScorer().score(FaceBatch.from_crops(crops)) < 0.5)


def test_unknown_scorer_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown scorer"):
        load_scorer("sharpest")


def test_the_default_network_ranks_damage_below_the_clean_face(photo_faces):
    """The shipped network on six faces it never saw: each face scores above its own blurred, downscaled,
    blinking and heavily compressed versions (every damage the recogniser matches worse)."""
    from fqselect.options import DEFAULT_NETWORK
    from fqselect.quality.network import available_networks

    if DEFAULT_NETWORK not in available_networks():
        pytest.skip("no trained network in weights/")
    image, detections = photo_faces
    clean = crops_of(image, detections)
    rng = np.random.default_rng(0)
    versions = {
        "defocus": np.stack([degrade.defocus(c, 3.0) for c in clean]),
        "downscale": np.stack([degrade.downscale(c, 0.2) for c in clean]),
        "blink": np.stack([degrade.close_eyes(c, [0, 1], rng) for c in clean]),
        "jpeg": np.stack([degrade.jpeg(c, 5) for c in clean]),
    }
    network = load_scorer(DEFAULT_NETWORK)
    base = network.score(FaceBatch.from_crops(clean))
    for name, crops in versions.items():
        damaged = network.score(FaceBatch.from_crops(crops))
        # a painted blink costs SFace little on these small faces; version 5 ranks it below the clean face
        # on average and on four of six (one of the others a tie within 1e-4): README, Eye openness
        most = 4 / 6 if name == "blink" else 5 / 6
        assert np.mean(damaged < base) >= most and damaged.mean() < base.mean(), f"{name}: {damaged} vs clean {base}"


def test_scale_feature_counts_octaves_of_the_crop_eye_distance_and_caps_large_faces():
    from fqselect.quality.network import SCALE_RANGE, TEMPLATE_EYE_DISTANCE, scale_feature

    octaves = scale_feature(np.array([TEMPLATE_EYE_DISTANCE, TEMPLATE_EYE_DISTANCE / 4, 1000.0, 0.0]))
    assert octaves.shape == (4, 1) and octaves.dtype == np.float32
    assert octaves[:, 0] == pytest.approx([0.0, -2.0, SCALE_RANGE[1], SCALE_RANGE[0]])
