import cv2
import numpy as np

from conftest import assert_clean_error, json_lines, run_cli
from fqselect import score_crops
from fqselect.research import degrade
from fqselect.faces.align import align_faces
from fqselect.faces.retinaface import RetinaFaceDetector


def test_score_images_reports_every_face(face_photo):
    proc = run_cli("score", face_photo, "--scorer", "combined")
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)  # piped stdout: JSON lines without asking
    assert len(records) == 6
    assert {"path", "face", "quality", "bbox", "landmarks", "det_score", "scorer"} <= set(records[0])


def test_score_a_folder_scores_its_images_in_order(face_photo, tmp_path):
    for name in ("b.jpg", "a.png"):
        cv2.imwrite(str(tmp_path / name), cv2.imread(str(face_photo)))
    (tmp_path / "notes.txt").write_text("not an image")
    proc = run_cli("score", tmp_path, "--scorer", "combined", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    assert [r["path"] for r in json_lines(proc.stdout)] == [str(tmp_path / "a.png")] * 6 + [str(tmp_path / "b.jpg")] * 6


def test_score_aligned_crops_from_stdin(face_photo, tmp_path):
    image = cv2.imread(str(face_photo))
    detections = RetinaFaceDetector().detect(image)
    crops = align_faces(image, detections.landmarks)
    paths = []
    for i, crop in enumerate(crops[:2]):
        for name, version in (("sharp", crop), ("blurred", degrade.defocus(crop, 3.0))):
            paths.append(tmp_path / f"{i}_{name}.png")
            cv2.imwrite(str(paths[-1]), version)
    bad = tmp_path / "wide.png"
    cv2.imwrite(str(bad), np.zeros((50, 80, 3), np.uint8))
    proc = run_cli("score", "-", "--aligned", "--scorer", "blur", "--jsonl",
                   stdin="\n".join(map(str, [*paths, bad])) + "\n")
    assert proc.returncode == 1
    assert_clean_error(proc, f"{bad}: --aligned expects a square")
    quality = {r["path"]: r["quality"] for r in json_lines(proc.stdout)}
    assert len(quality) == 4 and "bbox" not in json_lines(proc.stdout)[0]
    for i in range(2):
        assert quality[str(tmp_path / f"{i}_sharp.png")] > quality[str(tmp_path / f"{i}_blurred.png")]
    # the API gives the same numbers as the command
    api = score_crops(np.stack([cv2.imread(str(p)) for p in paths]), "blur")
    assert np.allclose(api, [quality[str(p)] for p in paths], atol=1e-4)


def test_a_folder_without_images_fails_alone_as_in_the_main_command(face_photo, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli("score", empty, face_photo, "--scorer", "combined", "--jsonl")
    assert proc.returncode == 1  # an input failed; the others were scored
    assert len(json_lines(proc.stdout)) == 6
    assert proc.stderr.count("folder has no images") == 1
    assert_clean_error(proc, f"{empty}: folder has no images")
