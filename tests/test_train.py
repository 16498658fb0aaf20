"""Training code on a tiny synthetic set: it learns, and its export scores like PyTorch at run time."""

import json

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import assert_clean_error, run_cli  # noqa: E402
from fqselect.research import Recipe, degrade  # noqa: E402
from fqselect.research.metrics import PairSet  # noqa: E402
from fqselect.quality.network import NetworkScorer  # noqa: E402
from fqselect.faces.batch import FaceBatch  # noqa: E402
from fqselect.research.train import (  # noqa: E402
    Samples, Validation, centre_labels, export_onnx, rho_labels, idq_loss, predict, network_inputs, smooth_weights,
    to_tensor, train,
)


def synthetic_samples(n_people=12, per_person=8, seed=0) -> Samples:
    """Textured 'faces'; each person's embedding drifts away from their centre as their crop is blurred,
    so the label is learnable from pixels (sharp = high quality)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 16))
    crops, embeddings, identity = [], [], []
    for person in range(n_people):
        texture = cv2.resize(rng.integers(0, 255, (28, 28, 3)).astype(np.uint8), (112, 112), interpolation=cv2.INTER_NEAREST)
        for k in range(per_person):
            sigma = 0.0 if k % 2 == 0 else rng.uniform(2.0, 6.0)
            crops.append(degrade.defocus(texture, sigma) if sigma else texture)
            embeddings.append(centres[person] + rng.normal(size=16) * (0.2 + sigma))
            identity.append(person)
    embeddings = np.array(embeddings, np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    identity = np.array(identity)
    source = np.arange(len(identity))
    return Samples(np.stack(crops), embeddings, identity, source, centre_labels(embeddings, identity, embeddings, source))


def test_centre_labels_leave_the_face_out():
    embeddings = np.eye(3, dtype=np.float32)[[0, 0, 1]]
    labels = centre_labels(embeddings, np.array([0, 0, 0]), embeddings, np.arange(3))
    # face 2 (e1) against the mean of two e0 faces: 0; faces 0/1 against mean of e0 and e1: 1/sqrt(2)
    assert labels == pytest.approx([2 ** -0.5, 2 ** -0.5, 0.0], abs=1e-6)


def test_best_share_centres_leave_the_outliers_out():
    """Three close faces and two far off: with the best three fifths as the centre, the outliers no
    longer pull the good faces' labels down."""
    embeddings = np.array([[1, 0], [0.99, 0.14], [0.99, -0.14], [0, 1], [-0.2, 1]], np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    identity, source = np.zeros(5, int), np.arange(5)
    everyone = centre_labels(embeddings, identity, embeddings, source)
    best = centre_labels(embeddings, identity, embeddings, source, share=0.6)
    good_pair = embeddings[1] + embeddings[2]
    assert best[0] == pytest.approx(float(embeddings[0] @ good_pair / np.linalg.norm(good_pair)), abs=1e-5)
    assert (best[:3] > everyone[:3]).all()


def test_rho_labels_recover_each_faces_cosine_to_the_true_centre_whatever_the_identity_size():
    """Faces made as ρ·centre plus orthogonal noise: the rank-one fit recovers ρ, and unlike the
    leave-one-out centre cosine it does not rate the faces of small identities lower."""
    rng = np.random.default_rng(0)
    embeddings, identity, truth = [], [], []
    for person, count in enumerate([2, 3] * 150 + [20] * 30):
        centre = rng.normal(size=64)
        centre /= np.linalg.norm(centre)
        for rho in rng.uniform(0.4, 0.9, count):
            noise = rng.normal(size=64)
            noise -= noise @ centre * centre
            embeddings.append(rho * centre + np.sqrt(1 - rho ** 2) * noise / np.linalg.norm(noise))
            identity.append(person)
            truth.append(rho)
    embeddings, identity, truth = np.array(embeddings, np.float32), np.array(identity), np.array(truth)
    source = np.arange(len(identity))
    rho = rho_labels(embeddings, identity, embeddings, source)
    centre = centre_labels(embeddings, identity, embeddings, source)
    small, large = np.bincount(identity)[identity] <= 3, np.bincount(identity)[identity] == 20
    assert np.abs(rho - truth)[large].mean() < 0.03
    assert np.abs(rho - truth)[small].mean() < 0.5 * np.abs(centre - truth)[small].mean()
    assert abs((rho - truth)[small].mean()) < 0.05 < abs((centre - truth)[small].mean())
    # a degraded copy (a worse embedding of a face's source) gets a lower ρ than its source
    worse = 0.5 * embeddings[:1] + 0.5 * rng.normal(size=(1, 64)).astype(np.float32) / 8
    worse /= np.linalg.norm(worse)
    assert rho_labels(embeddings, identity, worse, source[:1])[0] < rho[0]


def test_smooth_weights_favour_rare_labels():
    labels = np.array([0.5] * 90 + [0.05] * 10)
    weights = smooth_weights(labels)
    assert weights[-1] > weights[0]
    assert weights.sum() == pytest.approx(1.0)
    drawn = labels[np.random.default_rng(0).choice(len(labels), 10000, p=weights)]
    assert 0.15 < (drawn < 0.1).mean() < 0.5  # 10% before re-sampling, 25% after (sqrt of the counts)


def test_idq_loss_is_lower_when_the_worse_face_is_rated_worse():
    embeddings = torch.tensor([[1.0, 0.0], [0.6, 0.8], [1.0, 0.0]])
    identity = torch.tensor([0, 0, 1])
    source = torch.arange(3)
    right = idq_loss(torch.tensor([0.9, 0.2, 0.5]), embeddings, identity, source, m=0.7, s=16)
    wrong = idq_loss(torch.tensor([0.2, 0.9, 0.5]), embeddings, identity, source, m=0.7, s=16)
    both_high = idq_loss(torch.tensor([0.95, 0.95, 0.5]), embeddings, identity, source, m=0.7, s=16)
    assert right < both_high  # the pair's similarity 0.6 is below m: the pair quality must be low
    assert right == pytest.approx(float(wrong))  # loser takes all: only the minimum matters


@pytest.mark.parametrize("loss", ["l2", "mix", "idq", "distill"])
def test_training_reduces_the_loss(loss):
    samples = synthetic_samples()
    validation = Validation(synthetic_samples(seed=1), 64)
    recipe = Recipe("tinyfqnet", size=64, loss=loss, epochs=8, samples_per_epoch=len(samples))
    model, history = train(samples, validation, recipe, m=0.3, s=8.0, batch_size=32, log=lambda _: None)
    assert history[-1]["loss"] < history[0]["loss"]
    quality = predict(model, network_inputs(samples.crops, 64))
    sharp = np.arange(len(samples)) % 2 == 0
    if loss in ("l2", "mix"):  # regression onto the label: sharp textures rated above blurred ones
        assert quality[sharp].mean() > quality[~sharp].mean()


def test_export_scores_like_pytorch_at_run_time(tmp_path):
    from fqselect.research.nets import TinyFQNet

    torch.manual_seed(0)
    model = TinyFQNet().eval()
    path = tmp_path / "net.onnx"
    export_onnx(model, path)
    card = {"name": "net", "preprocessing": {"size": 64, "layout": "NCHW", "channels": "BGR", "mean": 127.5, "std": 128.0}}
    path.with_suffix(".json").write_text(json.dumps(card))
    crops = synthetic_samples(n_people=2).crops
    runtime = NetworkScorer.from_weights(path).score(FaceBatch.from_crops(crops))
    expected = predict(model, network_inputs(crops, 64))
    assert np.allclose(runtime, expected, atol=1e-5)


def test_training_batches_are_nchw_in_shape_and_channels_last_in_memory():
    crops = synthetic_samples(n_people=2).crops[:4]
    flip = np.array([False, True, False, True])
    x = to_tensor(crops, flip=flip)
    assert x.shape == (4, 3, 112, 112) and x.is_contiguous(memory_format=torch.channels_last)
    expected = (np.where(flip[:, None, None, None], crops[:, :, ::-1], crops).astype(np.float32) - 127.5) / 128.0
    assert np.array_equal(x.numpy(), expected.transpose(0, 3, 1, 2))


def test_validation_pairs_use_every_same_identity_pair():
    samples = synthetic_samples(n_people=3, per_person=4)
    assert len(PairSet.from_embeddings(samples.embeddings, samples.identity).genuine) == 3 * 6


def test_source_degradation_is_seeded_and_keeps_the_image_size():
    image = cv2.resize(np.random.default_rng(0).integers(0, 255, (50, 40, 3)).astype(np.uint8), (200, 250))
    first = degrade.source_degradation(image, np.random.default_rng(7))
    again = degrade.source_degradation(image, np.random.default_rng(7))
    assert first.shape == image.shape and first.dtype == np.uint8
    assert np.array_equal(first, again)
    damage = [np.abs(degrade.source_degradation(image, np.random.default_rng(s)).astype(int) - image).mean() for s in range(20)]
    assert min(damage) >= 0 and np.median(damage) > 3  # it does damage, by varying amounts
    assert np.std(damage) > 1


def test_ranking_loss_rewards_the_labels_order():
    from fqselect.research.train import ranking_loss

    label = torch.tensor([0.9, 0.5, 0.1])
    right = ranking_loss(torch.tensor([0.8, 0.5, 0.2]), label)
    wrong = ranking_loss(torch.tensor([0.2, 0.5, 0.8]), label)
    assert right < wrong
    assert ranking_loss(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([0.5, 0.52, 0.54])) == 0  # too close to order


def test_natural_share_sets_the_share_of_undegraded_samples():
    from fqselect.research.train import sampling_weights

    samples = synthetic_samples()
    samples.clean = np.arange(len(samples)) % 4 == 0  # a quarter natural
    weights = sampling_weights(samples, natural_share=0.5)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[samples.clean].sum() == pytest.approx(0.5)


def test_replayed_resolution_factor_is_the_one_the_degradation_used():
    """face_resolution replays a degraded copy's first draw: it must be the downscale the image got."""
    image = cv2.resize(np.random.default_rng(0).integers(0, 255, (50, 40, 3)).astype(np.uint8), (200, 250))
    seen = []
    for seed in range(12):
        factor = degrade.resolution_factor(np.random.default_rng(seed))
        resized = []
        original = cv2.resize
        degrade.cv2.resize = lambda img, size, *a, **k: resized.append(size) or original(img, size, *a, **k)
        try:
            degrade.source_degradation(image, np.random.default_rng(seed))
        finally:
            degrade.cv2.resize = original
        first = resized[0][0] / image.shape[1] if factor < 1 else 1.0
        assert first == pytest.approx(factor, abs=1.0 / image.shape[1])
        seen.append(factor < 1)
    assert any(seen) and not all(seen)  # both kinds of copy were checked


def test_match_targets_soften_the_threshold():
    from fqselect.research.calibration import match_targets

    embeddings = np.array([[1, 0], [1, 0], [0.8, 0.6], [0.6, 0.8]], np.float32)
    identity, source = np.zeros(4, int), np.arange(4)
    reference, goodness = np.ones(4, bool), np.array([1.0, 0.9, 0.5, 0.1])
    hard = match_targets(embeddings, identity, source, reference, goodness, threshold=0.7)
    soft = match_targets(embeddings, identity, source, reference, goodness, threshold=0.7, softness=10.0)
    # good references: faces 0 and 1. Face 3 (cos 0.6 to both) fails them; softly it scores sigmoid(-1)
    assert hard[3] == 0 and soft[3] == pytest.approx(1 / (1 + np.e), abs=1e-6)
    assert soft[2] == pytest.approx(1 / (1 + np.exp(-1)), abs=1e-6) and hard[2] == 1


def test_shut_eyes_covers_the_eye_with_its_own_lid():
    """A dark iris under a lighter lid band: the shut eye shows lid where the iris was; the other eye
    and the mouth are untouched."""
    from fqselect.faces.batch import TEMPLATE

    crop = np.full((112, 112, 3), 150, np.uint8)
    for x, y in TEMPLATE[:2]:
        cv2.rectangle(crop, (int(x) - 10, int(y) - 8), (int(x) + 10, int(y) - 5), (200, 200, 200), -1)  # lid
        cv2.circle(crop, (int(round(x)), int(round(y))), 4, (20, 20, 20), -1)  # iris
    shut = degrade.shut_eyes(crop, [0], np.random.default_rng(0))
    (lx, ly), (rx, ry) = np.rint(TEMPLATE[:2]).astype(int)
    assert shut[ly - 1:ly + 1, lx - 1:lx + 2].mean() > 150 and crop[ly, lx].mean() == 20  # the iris is gone
    assert np.array_equal(shut[ry - 4:ry + 5, rx - 12:rx + 12], crop[ry - 4:ry + 5, rx - 12:rx + 12])
    assert np.array_equal(shut[80:], crop[80:])


def test_certainty_ratio_divides_by_the_nearest_other_centre():
    from fqselect.research.train import nearest_impostor_centre, regression_targets

    embeddings = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1], [0, 1]], np.float32)
    identity = np.array([0, 0, 0, 1, 1])
    samples = Samples(np.zeros((5, 1, 1, 3), np.uint8), embeddings, identity, np.arange(5),
                      label=np.array([0.8, 0.8, 0.6, 1.0, 1.0], np.float32))
    # identity 0's centre is the mean of its three faces; face 2 leans towards identity 1 ([0, 1])
    assert nearest_impostor_centre(samples)[:3] == pytest.approx([0.0, 0.0, 0.8], abs=1e-6)
    centre0 = embeddings[:3].mean(axis=0) / np.linalg.norm(embeddings[:3].mean(axis=0))
    assert nearest_impostor_centre(samples)[3] == pytest.approx(centre0[1], abs=1e-6)
    ratio = regression_targets(samples, "cr", m=0.4, s=10.0)
    assert ratio[2] == pytest.approx(0.6 / 1.8, abs=1e-6) and ratio[0] == pytest.approx(0.8, abs=1e-6)


def test_scale_aware_network_trains_exports_and_gets_the_scale_from_landmarks(tmp_path):
    """A scale-aware net learns a label that depends only on source scale (identical crops), and its
    ONNX export, run by the runtime scorer on FaceBatches, scores like PyTorch from the landmarks."""
    from fqselect.research.nets import ScaleAwareTinyFQNet
    from fqselect.quality.network import TEMPLATE_EYE_DISTANCE

    samples = synthetic_samples()
    rng = np.random.default_rng(0)
    samples.resolution = TEMPLATE_EYE_DISTANCE * 2.0 ** rng.uniform(-3, 1, len(samples))
    samples.crops = np.repeat(samples.crops[:1], len(samples), axis=0)  # the pixels say nothing
    samples.label = (0.2 + 0.6 * (np.log2(samples.resolution / TEMPLATE_EYE_DISTANCE) + 3) / 4).astype(np.float32)
    validation = Validation(samples, 112)
    recipe = Recipe("tinyfqnet-scale", loss="l2", epochs=6, samples_per_epoch=len(samples))
    model, history = train(samples, validation, recipe, m=0.3, s=8.0, batch_size=32, log=lambda _: None)
    quality = predict(model, samples.crops, samples.resolution)
    assert np.corrcoef(quality, samples.label)[0, 1] > 0.8
    path = tmp_path / "net.onnx"
    export_onnx(model, path)
    card = {"name": "net", "preprocessing": {"size": 112, "layout": "NCHW", "channels": "BGR", "mean": 127.5, "std": 128.0}}
    path.with_suffix(".json").write_text(json.dumps(card))
    faces = FaceBatch.from_crops(samples.crops[:8])
    faces.landmarks = faces.landmarks * (samples.resolution[:8] / TEMPLATE_EYE_DISTANCE)[:, None, None]
    scorer = NetworkScorer.from_weights(path)
    assert np.allclose(scorer.score(faces), quality[:8], atol=1e-5)
    assert isinstance(model, ScaleAwareTinyFQNet)
    from fqselect.research.evaluate import onnx_cost

    assert onnx_cost(scorer.path, scorer.spec)[1] > 8.5  # the whole graph counted (8.79 M), not the part before the scale


def test_build_samples_takes_a_copys_penalty_off_its_labels_only():
    from fqselect.research.dataset import FaceSet
    from fqselect.research.train import build_samples

    rng = np.random.default_rng(0)

    def faces(n=4):
        embeddings = rng.normal(size=(n, 8)).astype(np.float32)
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        return FaceSet(paths=np.array([f"p{i}.jpg" for i in range(n)]), identities=np.array(["a", "a", "b", "b"]),
                       crops=np.zeros((n, 112, 112, 3), np.uint8), embeddings=embeddings,
                       landmarks=np.zeros((n, 5, 2), np.float32), boxes=np.zeros((n, 4), np.float32),
                       det_scores=np.ones(n, np.float32))

    clean, first, second = faces(), faces(), faces()
    plain = build_samples(clean, [first, second])
    penalised = build_samples(clean, [first, second], [0.0, 0.2])
    assert np.allclose(plain.label[:8], penalised.label[:8])  # clean faces and the first copy untouched
    assert np.allclose(plain.label[8:] - 0.2, penalised.label[8:])


@pytest.mark.parametrize("options, says", [(["--labels", "bogus"], "--labels bogus"), (["--eye-style", "bogus"], "--eye-style bogus"),
                                           (["--loss", "bogus"], "--loss bogus"),
                                           (["--labels", "rho", "--centre-share", "0.5"], "--centre-share applies to --labels centre only")])
def test_train_rejects_an_unknown_or_conflicting_choice_in_one_line(options, says, tmp_path):
    run = run_cli("train", *options, "--data", tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert_clean_error(run, says)


def test_half_shut_and_squeezed_eyes_cover_as_much_of_the_eye_as_they_say():
    """A half-shut lid leaves the lower iris showing; a squeezed eye hides it all under skin from brow and
    cheek (lighter than the iris), a lash line where they meet; the other eye is untouched."""
    from fqselect.faces.batch import TEMPLATE

    crop = np.full((112, 112, 3), 150, np.uint8)
    for x, y in TEMPLATE[:2]:
        cv2.circle(crop, (int(round(x)), int(round(y))), 4, (20, 20, 20), -1)  # iris
    (lx, ly), (rx, ry) = np.rint(TEMPLATE[:2]).astype(int)
    half = degrade.shut_eyes(crop, [0], np.random.default_rng(0), closure=0.4)
    assert half[ly - 4, lx].mean() > 100 and half[ly + 3, lx].mean() < 60  # lid over the top, iris below
    squeezed = degrade.squeeze_eyes(crop, [0], np.random.default_rng(0))
    assert squeezed[ly + 3, lx].mean() > 100 and squeezed[ly - 4, lx].mean() > 100
    assert squeezed[ly - 8:ly + 6, lx - 8:lx + 8].min() < 120  # the lash line
    assert np.array_equal(squeezed[ry - 4:ry + 5, rx - 12:rx + 12], crop[ry - 4:ry + 5, rx - 12:rx + 12])


def test_norm_labels_map_the_feature_length_onto_the_cosine_and_keep_penalties():
    from fqselect.research.train import norm_labels

    rng = np.random.default_rng(0)
    cosine = rng.uniform(0.2, 0.9, 200).astype(np.float32)
    norm = (10 * cosine + 3).astype(np.float32)  # a length that follows the cosine exactly
    penalty = np.where(np.arange(200) % 4 == 0, 0.15, 0.0).astype(np.float32)

    def samples():
        return Samples(np.zeros((200, 1, 1, 3), np.uint8), np.zeros((200, 4), np.float32), np.arange(200) // 4,
                       np.arange(200), cosine - penalty, norm=norm, penalty=penalty)

    for labels in ("norm", "centre+norm"):
        relabelled = samples()
        norm_labels(relabelled, labels)
        assert np.allclose(relabelled.label, cosine - penalty, atol=1e-5)
    noisy = samples()
    noisy.norm = norm[::-1].copy()  # a length unrelated to the cosine: "norm" follows the length, not the cosine
    norm_labels(noisy, "norm")
    assert abs(np.corrcoef(noisy.label + penalty, norm[::-1])[0, 1]) > 0.999
    # natural images average the two teachers; with centre+norm-natural the degraded copies keep the cosine
    for labels in ("centre+norm", "centre+norm-natural"):
        mixed = samples()
        mixed.norm = norm[::-1].copy()
        mixed.clean = np.arange(200) < 100
        norm_labels(mixed, labels)
        kept = np.isclose(mixed.label, cosine - penalty, atol=1e-5)
        assert kept[100:].all() == (labels == "centre+norm-natural") and not kept[:100].all()
    # --norm-share weighs the two teachers: none of the length leaves the cosine, all of it the "norm" label
    by_share = {}
    for share in (0.0, 0.3, 1.0):
        weighted = samples()
        weighted.norm = norm[::-1].copy()
        norm_labels(weighted, "centre+norm", share)
        by_share[share] = weighted.label
    assert np.allclose(by_share[0.0], cosine - penalty, atol=1e-5)
    assert np.allclose(by_share[1.0], noisy.label, atol=1e-5)
    assert np.allclose(by_share[0.3], 0.7 * by_share[0.0] + 0.3 * by_share[1.0], atol=1e-5)


def test_blur_penalty_follows_the_detail_a_copy_lost_against_its_own_clean_face():
    import cv2

    from fqselect.research.train import SOFTNESS_FULL, penalise_blur, softness

    faces = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    blurred = np.stack([cv2.GaussianBlur(face, (0, 0), 3) for face in faces])
    brighter = np.clip(faces.astype(int) + 40, 0, 255).astype(np.uint8)  # a change that is not blur
    crops = np.concatenate([faces, blurred, brighter])
    samples = Samples(crops, np.zeros((6, 4), np.float32), np.array([0, 1] * 3), np.array([0, 1] * 3),
                      np.full(6, 0.8, np.float32), clean=np.arange(6) < 2, penalty=np.full(6, 0.05, np.float32))
    lost = softness(samples)
    assert np.allclose(lost[:2], 0) and (lost[2:4] > SOFTNESS_FULL).all() and (lost[4:] < 1).all()
    penalise_blur(samples, 0.2)
    assert np.allclose(samples.label[2:4], 0.6) and np.allclose(samples.penalty[2:4], 0.25)
    assert np.allclose(samples.label[:2], 0.8) and (samples.label[4:] > 0.7).all()
    samples.label[:] = 0.8
    penalise_blur(samples, 0.2, onset=SOFTNESS_FULL - 0.01)  # from just below the full loss: all or nothing
    assert np.allclose(samples.label[2:4], 0.6) and np.allclose(samples.label[4:], 0.8)


def test_face_sets_keep_feature_lengths_and_load_caches_written_without_them(tmp_path):
    from fqselect.research.dataset import FaceSet

    n = 3
    faces = FaceSet(paths=np.array(["a.jpg", "b.jpg", "c.jpg"]), identities=np.array(["x", "x", "y"]),
                    crops=np.zeros((n, 112, 112, 3), np.uint8), embeddings=np.eye(n, 8, dtype=np.float32),
                    landmarks=np.zeros((n, 5, 2), np.float32), boxes=np.zeros((n, 4), np.float32),
                    det_scores=np.ones(n, np.float32), norms=np.array([9.0, 11.0, 13.0], np.float32))
    faces.save(tmp_path / "with.npz")
    assert np.array_equal(FaceSet.load(tmp_path / "with.npz").subset(np.array([2, 0])).norms, [13.0, 9.0])
    faces.norms = None
    faces.save(tmp_path / "without.npz")
    assert FaceSet.load(tmp_path / "without.npz").norms is None


def test_a_cache_written_without_feature_lengths_gains_them_once(face_photo, tmp_path):
    from fqselect.faces.align import align_faces
    from fqselect.faces.retinaface import RetinaFaceDetector
    from fqselect.faces.sface import SFaceRecognizer
    from fqselect.research.dataset import FaceSet
    from fqselect.research.sources import with_norms

    image = cv2.imread(str(face_photo))
    crops = align_faces(image, RetinaFaceDetector().detect(image).landmarks[:2])
    faces = FaceSet(paths=np.array(["a.jpg", "b.jpg"]), identities=np.array(["x", "y"]), crops=crops,
                    embeddings=SFaceRecognizer().embed(crops), landmarks=np.zeros((2, 5, 2), np.float32),
                    boxes=np.zeros((2, 4), np.float32), det_scores=np.ones(2, np.float32))
    path = tmp_path / "faces.npz"
    faces.save(path)
    assert faces.path == path  # a set just made and cached (no cache before) can gain lengths too
    logged = []
    filled = with_norms(FaceSet.load(path), workers=1, log=logged.append)
    assert len(logged) == 1 and "faces.npz" in logged[0]
    expected = np.linalg.norm(SFaceRecognizer().features(crops), axis=1)
    assert np.allclose(filled.norms, expected, rtol=1e-5)
    again = []
    assert np.allclose(with_norms(FaceSet.load(path), workers=1, log=again.append).norms, expected, rtol=1e-5)
    assert not again  # saved: measured once
    mirrored = with_norms(FaceSet.load(path), workers=1, log=again.append, mirrored=True)
    assert len(again) == 1 and "mirror_norms" in again[0]  # only the mirrored lengths were missing
    assert np.allclose(mirrored.mirror_norms, np.linalg.norm(SFaceRecognizer().features(crops[:, :, ::-1].copy()), axis=1), rtol=1e-5)
    assert not np.allclose(mirrored.mirror_norms, expected, rtol=1e-3)
    assert np.allclose(FaceSet.load(path).mirror_norms, mirrored.mirror_norms)
    fresh = []
    assert np.allclose(with_norms(faces, workers=1, log=fresh.append, mirrored=True).mirror_norms, mirrored.mirror_norms)
    assert len(fresh) == 2 and all("faces.npz" in line for line in fresh)  # the set as saved, never loaded


def test_a_degraded_copy_finds_its_clean_face_however_the_data_folder_was_spelt():
    from fqselect.research.dataset import FaceSet
    from fqselect.research.train import build_samples

    def faces(root):
        n = 4
        embeddings = np.eye(n, 8, dtype=np.float32)
        return FaceSet(paths=np.array([f"{root}/lfw/images/{p}/{p}_000{i}.jpg" for p, i in (("a", 1), ("a", 2), ("b", 1), ("b", 2))]),
                       identities=np.array(["a", "a", "b", "b"]), crops=np.zeros((n, 112, 112, 3), np.uint8),
                       embeddings=embeddings, landmarks=np.zeros((n, 5, 2), np.float32), boxes=np.zeros((n, 4), np.float32),
                       det_scores=np.ones(n, np.float32))

    samples = build_samples(faces("../shared/data"), [faces("../shared/data"), faces("/work/shared/data")])
    assert len(samples) == 12  # the copy cached under the absolute path is not dropped
    assert np.array_equal(samples.source[8:], np.arange(4))


def test_a_retrained_network_is_one_version_on_from_the_one_it_replaces(tmp_path):
    from fqselect.research.train import next_version

    card = tmp_path / "net.json"
    assert next_version(card) == "1"  # nothing to replace
    card.write_text(json.dumps({"version": "3"}))
    assert next_version(card) == "4"
    card.write_text("{not json")
    assert next_version(card) == "1"
