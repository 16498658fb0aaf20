"""Eye openness and --eyes: ordinary open eyes (made up, narrow, behind glasses) read open and shut ones
shut, on real video frames; every pick carries its eyes' openness; the ranking takes off the log-odds of
faces whose eyes are not open, more under --eyes open than by default, nothing under --eyes any."""

import cv2
import numpy as np
import pytest

from conftest import SHARED, assert_clean_error, json_lines, run_cli
from fqselect.decode import open_input
from fqselect.errors import UsageError
from fqselect.faces.align import detect_and_align
from fqselect.faces.batch import FaceBatch
from fqselect.faces.detect import load_detector
from fqselect.options import Options
from fqselect.quality.eyes import (EYE_WEIGHT, GAZE_AHEAD, GAZE_ASIDE, OPEN_EYES, UPPER, WINK_ASYMMETRY, WINK_SHRINK, EyeOpenness,
                                   closer_opening, eye_crops, eye_term, gaze, gaze_term, opening)
from fqselect.run.job import process_input

VIDEOS = SHARED / "videos"


def frames_of(clip: str, indexes: list[int]) -> list[np.ndarray]:
    wanted, found = set(indexes), {}
    with open_input(str(VIDEOS / clip)) as source:
        for frame in source.frames():
            if frame.index in wanted:
                found[frame.index] = frame.image
            if frame.index >= max(wanted):
                break
    return [found[i] for i in indexes]


def largest_faces(images: list[np.ndarray]) -> FaceBatch:
    detector = load_detector("retinaface")
    faces = []
    for image in images:
        found = detect_and_align(image, detector)
        faces.append(found.take(np.array([int(np.argmax(np.prod(found.boxes[:, 2:] - found.boxes[:, :2], axis=1)))])))
    return FaceBatch.concat(faces)


@pytest.mark.skipif(not (VIDEOS / "talking_d10.mp4").is_file(), reason="../shared/videos not present")
def test_made_up_relaxed_open_eyes_read_open_and_shut_eyes_shut():
    """talking_d10: ordinary open eyes under heavy eyeliner (the old eye network read them as shut);
    talking_d9 frame 448 and talking_d13 frame 80: both eyes shut (dlib's eye aspect ratio 0.09)."""
    model = EyeOpenness()
    opened = model.score(largest_faces(frames_of("talking_d10.mp4", [48, 128, 160, 176, 208])))
    assert np.all(opened >= 0.8), opened
    shut = model.score(largest_faces(frames_of("talking_d9.mp4", [448]) + frames_of("talking_d13.mp4", [80])))
    assert np.all(shut <= 0.4), shut


@pytest.mark.skipif(not (VIDEOS / "talking_d3.mp4").is_file(), reason="../shared/videos not present")
def test_a_wink_reads_shut_though_its_squeezed_lids_read_partly_open():
    """talking_d3 frame 34 winks (the image-left eye shut, its lids squeezed: they alone read 0.54 open);
    frames 79 and 289, both eyes open, still read open."""
    openness = EyeOpenness().score(largest_faces(frames_of("talking_d3.mp4", [34, 79, 289])))
    assert openness[0] < 0.4 and np.all(openness[1:] > 0.7), openness


def test_only_lids_far_less_apart_on_one_eye_than_the_other_shrink_the_closer_eye():
    def eyes(gap_left: float, gap_right: float) -> np.ndarray:
        contours = np.zeros((2, 71, 2), np.float32)
        contours[:, 8] = (40, 0)
        contours[0, UPPER, 1], contours[1, UPPER, 1] = gap_left, gap_right
        return contours

    assert closer_opening(eyes(8.0, 8.0)) == pytest.approx([0.2])
    assert closer_opening(eyes(8.0, 6.0)) == pytest.approx([0.15])  # asymmetry 0.25: a natural face's
    # gaps 4 and 8: asymmetry 0.5, past the tolerance: the closer eye's 0.1 shrinks (to 0.06)
    assert closer_opening(eyes(4.0, 8.0)) == pytest.approx([0.1 * (1 - WINK_SHRINK * (0.5 - WINK_ASYMMETRY))])
    assert closer_opening(eyes(4.0, 8.0))[0] < 0.1


@pytest.mark.skipif(not (VIDEOS / "talking_d0.mp4").is_file(), reason="../shared/videos not present")
def test_side_glances_read_as_gaze_and_lose_to_faces_looking_ahead():
    """talking_d0 frame 24 and talking_d10 frame 72: the eyes turned to one side, then the other (the
    head frontal); talking_d0 frame 72 and talking_d10 frame 0: looking at the camera."""
    model = EyeOpenness()
    openness, gaze = model.read(largest_faces(frames_of("talking_d0.mp4", [24, 72]) + frames_of("talking_d10.mp4", [0, 72])))
    assert np.all(openness >= 0.8), openness
    assert gaze[1] < GAZE_AHEAD and gaze[2] < GAZE_AHEAD, gaze
    assert gaze[0] > GAZE_ASIDE and gaze[3] > GAZE_ASIDE, gaze
    assert np.all(gaze_term(gaze[[0, 3]], "prefer") == -EYE_WEIGHT["prefer"]) and np.all(gaze_term(gaze[[1, 2]], "prefer") == 0)


def test_gaze_is_how_far_the_irises_sit_off_the_middle_sideways():
    """Both irises moved towards image-right by a tenth of the eye's width: the image-left eye's iris
    sits at 0.6 of its eye, the mirrored eye's at 0.4; the gaze is 0.1. Irises in the middle: 0."""
    contours = np.zeros((4, 71, 2), np.float32)
    contours[:, 8] = (40, 0)
    irises = np.zeros((4, 5, 2), np.float32)
    irises[:, 0] = [(24, 3), (16, -2), (20, 0), (20, 5)]  # off the corner line vertically: no matter
    assert gaze(contours, irises) == pytest.approx([0.1, 0.0])


def test_eye_crops_take_the_image_left_eye_as_it_is_and_mirror_the_other():
    """A face whose two eyes differ (a bright left half of the image, a dark right half): the first crop
    is the bright eye as it is (its dark edge on the right), the second the dark eye mirrored (its bright
    edge now on the right)."""
    region = np.zeros((200, 200, 3), np.uint8)
    region[:, :100] = 220
    landmarks = np.array([[[60, 90], [140, 90], [100, 120], [70, 150], [130, 150]]], np.float32)
    faces = FaceBatch(np.array([[0, 0, 200, 200]], np.float32), np.ones(1, np.float32), landmarks,
                      np.zeros((1, 112, 112, 3), np.uint8), [region], [region])
    crops = eye_crops(faces)
    assert crops.shape == (2, 3, 64, 64) and crops.dtype == np.float32
    assert crops[0].mean() > 0.5 > crops[1].mean()
    assert crops[0, :, :, 0].mean() > crops[0, :, :, -1].mean()
    assert crops[1, :, :, -1].mean() > crops[1, :, :, 0].mean()


def test_opening_is_the_lids_distance_over_the_width():
    contour = np.zeros((1, 71, 2), np.float32)
    contour[0, 0], contour[0, 8] = (0, 0), (20, 0)
    contour[0, 1:8, 1], contour[0, 9:16, 1] = 2.0, -2.0
    assert opening(contour)[0] == pytest.approx(0.2)


def test_the_eye_term_takes_off_below_open_eyes_and_rewards_nothing_above():
    """Wider-than-open eyes (surprise) must not outrank calm open ones; shut eyes lose more under --eyes
    open than by default, and nothing under --eyes any."""
    openness = np.array([0.05, OPEN_EYES / 2, OPEN_EYES, 0.99])
    prefer, strict, none = (eye_term(openness, mode) for mode in ("prefer", "open", "any"))
    assert np.all(none == 0) and prefer[2] == prefer[3] == 0 and strict[2] == strict[3] == 0
    assert prefer[0] < prefer[1] < 0 and np.all(strict[:2] < prefer[:2])
    assert EYE_WEIGHT["open"] > EYE_WEIGHT["prefer"] > EYE_WEIGHT["any"] == 0


def test_cli_reports_eyes_open_and_refuses_an_unknown_mode(tmp_path, face_photo):
    proc = run_cli(face_photo, "--top", "1", "--jsonl", "-q", "--eyes", "open")
    assert proc.returncode == 0, proc.stderr
    (record,) = json_lines(proc.stdout)
    assert 0.0 <= record["eyes_open"] <= 1.0
    proc = run_cli(face_photo, "--eyes", "shut")
    assert proc.returncode == 2
    assert_clean_error(proc, "'--eyes'", "'shut' is not one of 'prefer', 'any', 'open'")


def test_a_broken_eye_model_is_a_usage_error_naming_the_file(tmp_path):
    (tmp_path / "iris_landmark.onnx").write_bytes(b"not a network")
    with pytest.raises(UsageError, match="iris_landmark.onnx"):
        EyeOpenness(tmp_path / "iris_landmark.onnx")


def test_a_broken_installed_eye_model_stops_the_run_with_a_usage_error(tmp_path, face_photo, monkeypatch):
    """The eye model loads on idle cycles while the input streams; a broken file still stops the run with
    the usage error naming it, not the input's error, when the eyes are first read."""
    from fqselect.quality import eyes
    from fqselect.run import bundle

    (tmp_path / "iris_landmark.onnx").write_bytes(b"not a network")
    monkeypatch.setattr(eyes, "check_eye_model", lambda _pack=None: tmp_path / "iris_landmark.onnx")
    bundle.load_models.cache_clear()
    try:
        with pytest.raises(UsageError, match="iris_landmark.onnx"):
            process_input(str(face_photo), Options(top=1))
    finally:
        bundle.load_models.cache_clear()


def test_without_the_eye_model_the_default_ranks_without_eyes_and_open_is_refused(tmp_path, face_photo, monkeypatch):
    """A broken install without the eye model: --eyes prefer (the default) quietly ranks as --eyes any
    does (the mouth is still read); --eyes open, which cannot work without it, is a usage error before any
    input runs."""
    from fqselect.quality import parts
    from fqselect.run import bundle

    cv2.imwrite(str(tmp_path / "a.png"), cv2.imread(str(face_photo)))
    monkeypatch.setattr(parts, "eye_model_installed", lambda: False)
    monkeypatch.setattr(bundle, "check_eye_model", lambda: (_ for _ in ()).throw(UsageError("iris_landmark.onnx: missing")))
    bundle.load_models.cache_clear()
    try:
        result = process_input(str(tmp_path), Options(top=2))
        assert result.status == "ok", result.error
        assert all(p.eyes_open is None and p.mouth_open is not None for p in result.picks)
        with pytest.raises(UsageError, match="iris_landmark.onnx"):
            bundle.check_models(Options(eyes="open"))
    finally:
        bundle.load_models.cache_clear()
