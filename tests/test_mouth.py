"""Mouth opening and --mouth: the face mesh reads a wide-open mouth wide and a calm one calm on real video
frames; every pick carries its mouth's opening; the ranking takes log-odds off open mouths, more under
--mouth closed than by default, nothing under --mouth any, and reads mouths only where the choice
reaches a face."""

import numpy as np
import pytest

from conftest import SHARED, assert_clean_error, json_lines, run_cli
from fqselect.choose.pickers import TopKPicker
from fqselect.choose.ranking import Embedder, SetRanker, read_parts
from fqselect.errors import UsageError
from fqselect.faces.align import detect_and_align
from fqselect.faces.detect import load_detector
from fqselect.quality.mouth import CALM_MOUTH, MOUTH_WEIGHT, WIDE_MOUTH, MouthOpening, face_crops, mouth_term
from fqselect.quality.parts import PartReadings
from test_eyes import frames_of, largest_faces
from test_set_cost import CALIBRATION, Parts, PeopleRecognizer, face

VIDEOS = SHARED / "videos"


def test_mouth_term_costs_nothing_while_calm_and_the_whole_weight_when_wide():
    for mode, weight in MOUTH_WEIGHT.items():
        assert mouth_term(0.0, mode) == 0.0 and mouth_term(CALM_MOUTH, mode) == 0.0
        assert mouth_term(WIDE_MOUTH, mode) == pytest.approx(-weight) and mouth_term(0.9, mode) == pytest.approx(-weight)
    openings = np.linspace(CALM_MOUTH, WIDE_MOUTH, 7)
    assert np.all(np.diff(mouth_term(openings, "prefer")) < 0)
    assert mouth_term(0.3, "closed") < mouth_term(0.3, "prefer") < mouth_term(0.3, "any") == 0.0


def test_the_face_mesh_finds_the_face_in_its_crop(face_photo):
    """The converted model runs on a real face: it is sure a face is there, and its points fill the crop
    as MediaPipe's own crop does (the landmarks' box about 1/1.5 of the side, in the middle)."""
    import cv2

    image = cv2.imread(str(face_photo))
    faces = detect_and_align(image, load_detector("retinaface"))
    model = MouthOpening()
    crops = face_crops(faces.take(np.array([0])))
    points, presence = model.session.run(None, {model.input_name: crops})
    assert presence[0, 0] > 2.0  # a logit
    xy = points.reshape(468, 3)[:, :2]
    size = xy.max(axis=0) - xy.min(axis=0)
    assert 0.45 < size.max() / 192 < 0.85
    assert np.all(np.abs((xy.max(axis=0) + xy.min(axis=0)) / 2 - 96) < 20)


@pytest.mark.skipif(not VIDEOS.is_dir(), reason="needs ../shared/videos")
def test_wide_open_mouths_read_wide_and_calm_ones_calm():
    """talking_d6: frames 56 and 352 open wide mid-grimace; 400 and 12 are calm and pursed."""
    openings = MouthOpening().read(largest_faces(frames_of("talking_d6.mp4", [12, 56, 352, 400])))
    calm_pursed, wide, wide_too, calm = openings
    assert wide > WIDE_MOUTH and wide_too > WIDE_MOUTH
    assert calm_pursed < CALM_MOUTH and calm < CALM_MOUTH


def test_a_broken_mesh_model_is_a_usage_error_naming_the_file(tmp_path):
    (tmp_path / "face_landmark.onnx").write_bytes(b"not a network")
    with pytest.raises(UsageError, match="face_landmark.onnx"):
        MouthOpening(tmp_path / "face_landmark.onnx")


class ListedMouths:
    """Reads each face's mouth as listed by its number (the crop's second pixel), counting the faces read;
    every face's eyes are open."""

    def __init__(self, openings: dict[int, float]):
        self.openings, self.read_faces = openings, []

    def read(self, faces) -> PartReadings:
        numbers = [int(n) for n in faces.crops[:, 0, 0, 1]]
        self.read_faces += numbers
        return PartReadings(np.full(len(numbers), 0.95, np.float32), np.zeros(len(numbers), np.float32),
                            np.array([self.openings[n] for n in numbers], np.float32))


def picks_of(mouths: ListedMouths, mode: str, read_first: bool = False):
    faces = [face(1, i, 0.999 - 0.0003 * i, 2.0 * i) for i in range(12)]
    for candidate in faces:
        candidate.payload.image = np.zeros((20, 20, 3), np.uint8)
    if read_first:
        read_parts(faces, mouths)
    ranker = SetRanker("prefer", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0, parts=mouths, mouth=mode)
    return TopKPicker(3, 1.0, 0.0, Parts([faces]), ranker).finish().groups[0]


def test_wide_open_mouths_are_passed_over_and_read_only_where_the_choice_reaches():
    """The best faces by network and agreement are mid-word: they fall behind calm ones; the picks are
    those of reading every face first, with fewer faces read; under --mouth any they stay first."""
    openings = {i: (0.5 if i in (0, 1, 3) else 0.05) for i in range(12)}
    lazy, eager = ListedMouths(openings), ListedMouths(openings)
    lazy_picks, eager_picks = picks_of(lazy, "prefer"), picks_of(eager, "prefer", read_first=True)
    assert [p.payload.record() for p in lazy_picks] == [p.payload.record() for p in eager_picks]
    assert all(p.payload.mouth_open < CALM_MOUTH for p in lazy_picks)
    assert len(lazy.read_faces) < len(eager.read_faces) == 12
    assert 0 in {p.payload.frame for p in picks_of(ListedMouths(openings), "any")}


def test_mouth_modes_rank_and_every_pick_carries_its_mouth(face_photo):
    proc = run_cli(face_photo, "--top", "1", "--jsonl", "-q", "--mouth", "closed")
    assert proc.returncode == 0, proc.stderr
    (record,) = json_lines(proc.stdout)
    assert 0.0 <= record["mouth_open"] < 1.0
    proc = run_cli(face_photo, "--mouth", "shut")
    assert proc.returncode == 2
    assert_clean_error(proc, "'--mouth'", "'shut' is not one of 'prefer', 'any', 'closed'")
