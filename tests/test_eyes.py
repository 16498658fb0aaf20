"""The eye-openness network and --eyes: shut and winking eyes score low, every pick carries its eyes'
openness, and with --eyes open the picks rank by quality × openness, so a face with an eye shut is picked
after the same face with open eyes."""

import cv2
import numpy as np
import pytest

from conftest import assert_clean_error, json_lines, run_cli
from fqselect.faces.align import detect_and_align, similarity_matrix
from fqselect.faces.detect import load_detector
from fqselect.errors import UsageError
from fqselect.quality.eyes import EYE_TIEBREAK, OPEN_EYES, PATCH_HEIGHT, PATCH_WIDTH, EyeOpenness, eye_factor, eye_merit, eye_patches
from fqselect.faces.batch import TEMPLATE, FaceBatch
from fqselect.run.job import process_input
from fqselect.research.degrade import shut_eyes
from fqselect.options import Options


@pytest.fixture(scope="module")
def photo(face_photo) -> np.ndarray:
    """insightface's group photo cut to one face with plainly open eyes (second from the left)."""
    return np.ascontiguousarray(cv2.imread(str(face_photo))[80:340, 200:440])


@pytest.fixture(scope="module")
def face(photo) -> FaceBatch:
    faces = detect_and_align(photo, load_detector("retinaface"))
    assert len(faces) == 1
    return faces


def with_eyes_shut(image: np.ndarray, landmarks: np.ndarray, eyes: list[int]) -> np.ndarray:
    """The source image with `eyes` of the face at `landmarks` shut (degrade.shut_eyes on its aligned
    crop, warped back over the eye regions only): the closed eye a detector and aligner meet in a frame."""
    warp = similarity_matrix(landmarks, TEMPLATE)
    crop = cv2.warpAffine(image, warp, (112, 112))
    shut = shut_eyes(crop, eyes, np.random.default_rng(0))
    mask = np.zeros((112, 112), np.float32)
    for x, y in TEMPLATE[eyes]:
        cv2.ellipse(mask, (round(x), round(y - 3)), (13, 10), 0, 0, 360, 1.0, -1)
    size = image.shape[1::-1]
    back = cv2.warpAffine(shut, warp, size, flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)
    weight = cv2.warpAffine(mask, warp, size, flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)[..., None]
    return (image * (1 - weight) + back * weight).astype(np.uint8)


def test_patches_take_both_eyes_and_mirror_the_right_one():
    crops = np.zeros((3, 112, 112, 3), np.uint8)
    crops[:, :, :56] = np.arange(56, dtype=np.uint8)[None, None, :, None] * 4  # a ramp, mirrored about the centre
    crops[:, :, 56:] = crops[:, :, :56][:, :, ::-1]
    patches = eye_patches(crops)
    assert patches.shape == (3, 2, PATCH_HEIGHT, PATCH_WIDTH) and patches.dtype == np.float32
    np.testing.assert_allclose(patches[:, 0], patches[:, 1], atol=0.2)  # the template's eyes are ~1 px off-mirror


def test_eye_factor_scales_down_below_open_and_rewards_nothing_above():
    """Wider-than-open eyes (surprise) must not outrank calm open ones under --eyes open."""
    np.testing.assert_allclose(eye_factor(np.array([0.0, OPEN_EYES / 2, OPEN_EYES, 0.99])), [0.0, 0.5, 1.0, 1.0])


def test_open_eyes_score_high_and_a_shut_or_winking_eye_low(face):
    model = EyeOpenness()
    crop = face.crops[0]
    copies = np.stack([crop, shut_eyes(crop, [0, 1], np.random.default_rng(1)), shut_eyes(crop, [1], np.random.default_rng(2))])
    opened, blink, wink = model.score(FaceBatch.from_crops(copies))
    assert opened > 0.8
    assert blink < 0.3 and wink < 0.3  # a face scores its more closed eye
    assert model.score(FaceBatch.from_crops(crop[None, :, ::-1].copy()))[0] > 0.8  # mirrored: still open


def test_with_eyes_open_the_same_face_with_an_eye_shut_is_picked_second(tmp_path, photo, face):
    """A folder of the photo with a wink (first by name) and the photo itself: --eyes open ranks the open
    eyes first; by default (--eyes prefer) and with --eyes any the order is the quality's, as the wink is
    clearly the better face (more than EYE_TIEBREAK), and every pick still has eyes_open. The open-eyed
    photo is a little soft, so that the quality alone prefers the sharp wink: the case --eyes open is for."""
    cv2.imwrite(str(tmp_path / "a_wink.png"), with_eyes_shut(photo, face.landmarks[0], [1]))
    cv2.imwrite(str(tmp_path / "b_open.png"), cv2.GaussianBlur(photo, (0, 0), 1.2))
    opened = process_input(str(tmp_path), Options(top=2, eyes="open"))
    assert opened.status == "ok", opened.error
    wink, open_eyed = sorted(opened.picks, key=lambda p: p.source)
    assert open_eyed.eyes_open > 0.8 and wink.eyes_open < 0.4
    assert opened.picks[0] is open_eyed
    for plain in (process_input(str(tmp_path), Options(top=2)), process_input(str(tmp_path), Options(top=2, eyes="any"))):
        assert [p.quality for p in plain.picks] == sorted((p.quality for p in plain.picks), reverse=True)
        assert all(p.eyes_open is not None for p in plain.picks)
        assert plain.picks[0].source == wink.source  # the quality ranks the sharp wink first (0.947 vs 0.880)
        assert plain.picks[0].quality - plain.picks[1].quality > EYE_TIEBREAK


def test_by_default_open_eyes_break_near_ties_of_quality_only():
    """--eyes prefer: between faces within EYE_TIEBREAK of each other the open-eyed one ranks first; a face
    better by more keeps its place whatever its eyes; open eyes earn nothing beyond OPEN_EYES."""
    quality = np.array([0.998, 0.996, 0.90, 0.95])
    openness = np.array([0.05, 0.97, 1.0, 0.05])
    merit = eye_merit(quality, openness, "prefer")
    assert merit[1] > merit[0]  # a wink 0.002 better loses to open eyes
    assert merit[3] > merit[2]  # a shut-eyed face 0.05 better keeps its lead
    assert np.all(quality - merit <= EYE_TIEBREAK) and np.all(merit <= quality)
    assert eye_merit(quality[[1]], np.array([0.8]), "prefer") == eye_merit(quality[[1]], np.array([1.0]), "prefer")
    assert np.allclose(eye_merit(quality, openness, "open"), quality * eye_factor(openness))


def test_cli_reports_eyes_open_and_refuses_an_unknown_mode(tmp_path, face_photo):
    proc = run_cli(face_photo, "--top", "1", "--jsonl", "-q", "--eyes", "open")
    assert proc.returncode == 0, proc.stderr
    (record,) = json_lines(proc.stdout)
    assert 0.0 <= record["eyes_open"] <= 1.0
    proc = run_cli(face_photo, "--eyes", "shut")
    assert proc.returncode == 2
    assert_clean_error(proc, "'--eyes'", "'shut' is not one of 'prefer', 'any', 'open'")


def test_a_broken_eye_network_is_a_usage_error_naming_the_file(tmp_path):
    (tmp_path / "eyenet.onnx").write_bytes(b"not a network")
    (tmp_path / "eyenet.json").write_text("{}")
    with pytest.raises(UsageError, match="eyenet.onnx"):
        EyeOpenness(tmp_path / "eyenet.onnx")


def test_without_the_eye_network_the_default_ranks_by_quality_and_open_is_refused(tmp_path, photo, face, monkeypatch):
    """A broken install without the eye network: --eyes prefer (the default) quietly ranks by quality, as
    --eyes any does; --eyes open, which cannot work without it, is a usage error before any input runs."""
    from fqselect.run import bundle as pipeline

    cv2.imwrite(str(tmp_path / "a_wink.png"), with_eyes_shut(photo, face.landmarks[0], [1]))
    cv2.imwrite(str(tmp_path / "b_open.png"), photo)
    monkeypatch.setattr(pipeline, "eye_model_installed", lambda: False)
    monkeypatch.setattr(pipeline, "check_eye_model", lambda: (_ for _ in ()).throw(UsageError("eyenet.onnx: missing")))
    pipeline.load_models.cache_clear()
    try:
        result = process_input(str(tmp_path), Options(top=2))
        assert result.status == "ok", result.error
        assert [p.quality for p in result.picks] == sorted((p.quality for p in result.picks), reverse=True)
        assert all(p.eyes_open is None for p in result.picks)
        with pytest.raises(UsageError, match="eyenet.onnx"):
            pipeline.check_models(Options(eyes="open"))
    finally:
        pipeline.load_models.cache_clear()
