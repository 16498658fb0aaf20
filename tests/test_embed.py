import cv2
import numpy as np
import onnx

from fqselect.faces.align import align_faces
from fqselect.faces.retinaface import RetinaFaceDetector
from fqselect.faces.yunet import YuNetDetector
from fqselect.faces.recognize import quality_weighted_mean
from fqselect.faces.sface import SFACE_FILE, SFaceRecognizer, repair_sface
from fqselect.zoo.files import packaged_model
from fqselect.zoo.sessions import create_session


def test_sface_repair_keeps_outputs_and_fixes_inputs():
    raw = onnx.load(str(packaged_model(SFACE_FILE)))
    assert len(raw.graph.input) > 1  # trap 1 is really there
    repaired = repair_sface(onnx.load(str(packaged_model(SFACE_FILE))))
    assert [i.name for i in repaired.graph.input] == ["data"]
    assert not [n for n in repaired.graph.node if n.op_type == "DequantizeLinear"]  # trap 2 folded
    # reference: the original graph with only trap 1 fixed, run as shipped
    inputs = [i for i in raw.graph.input if i.name == "data"]
    del raw.graph.input[:]
    raw.graph.input.extend(inputs)
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
    expected = create_session(raw.SerializeToString()).run(None, {"data": x})[0]
    got = create_session(repaired.SerializeToString()).run(None, {"data": x})[0]
    assert np.allclose(expected, got, atol=1e-4)


def test_same_person_is_closer_than_different_people(face_photo):
    image = cv2.imread(str(face_photo))
    recogniser = SFaceRecognizer()
    a = recogniser.embed(align_faces(image, RetinaFaceDetector().detect(image).landmarks))
    shifted = np.roll(image, (3, 5), axis=(0, 1))  # the same photo, moved: the same six people
    b = recogniser.embed(align_faces(shifted, RetinaFaceDetector().detect(shifted).landmarks))
    similarity = a @ b.T
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-4)
    same = similarity.max(axis=1)
    assert np.all(same > 0.9)
    off_diagonal = similarity[~np.eye(6, dtype=bool) & (similarity < 0.9)]
    assert off_diagonal.max() < 0.5


def test_yunet_landmarks_follow_the_arcface_order(face_photo):
    image = cv2.imread(str(face_photo))
    faces = YuNetDetector().detect(image)
    assert len(faces) >= 5
    left_eye, right_eye, nose, left_mouth, right_mouth = faces.landmarks.transpose(1, 0, 2)
    assert np.all(left_eye[:, 0] < right_eye[:, 0]) and np.all(left_mouth[:, 0] < right_mouth[:, 0])


def test_quality_weighted_mean_leans_to_good_faces():
    embeddings = np.eye(3, dtype=np.float32)
    mean = quality_weighted_mean(embeddings, np.array([0.9, 0.1, 0.0]))
    assert np.linalg.norm(mean) == np.float32(1) or abs(np.linalg.norm(mean) - 1) < 1e-5
    assert mean[0] > 0.95


def test_dlib_recogniser_tells_people_apart(face_photo):
    import pytest

    pytest.importorskip("dlib")
    from fqselect.faces.recognize import load_recognizer

    image = cv2.imread(str(face_photo))
    shifted = np.roll(image, (3, 5), axis=(0, 1))
    recogniser = load_recognizer(name="dlib")
    a = recogniser.embed(align_faces(image, RetinaFaceDetector().detect(image).landmarks))
    b = recogniser.embed(align_faces(shifted, RetinaFaceDetector().detect(shifted).landmarks))
    similarity = a @ b.T
    same = similarity.max(axis=1)
    others = np.sort(similarity, axis=1)[:, -2]
    assert a.shape == (6, 128) and np.all(same > others + 0.05)


def test_sface_embedding_is_its_features_normalised_and_a_blurred_face_has_shorter_features(face_photo):
    image = cv2.imread(str(face_photo))
    crop = align_faces(image, RetinaFaceDetector().detect(image).landmarks[:1])
    blurred = cv2.GaussianBlur(crop[0], (0, 0), 4)[None]
    recognizer = SFaceRecognizer()
    features = recognizer.features(np.concatenate([crop, blurred]))
    lengths = np.linalg.norm(features, axis=1)
    assert np.allclose(recognizer.embed(crop)[0], features[0] / lengths[0], atol=1e-6)
    assert lengths[1] < lengths[0]
