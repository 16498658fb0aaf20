"""`fqselect eval` end to end: on a small generated gallery, and on the real held-out LFW people when
../shared is present (skipped cleanly otherwise)."""

import json

import cv2
import pytest

from conftest import SHARED, run_cli
from fqselect.research import degrade
from fqselect.faces.retinaface import RetinaFaceDetector


@pytest.fixture(scope="module")
def small_gallery(tmp_path_factory, face_photo):
    """Six people from the wheel's group photo, four versions each (clean, blurred, dark, JPEG)."""
    root = tmp_path_factory.mktemp("gallery")
    photo = cv2.imread(str(face_photo))
    for person, box in enumerate(RetinaFaceDetector().detect(photo).boxes):
        x1, y1, x2, y2 = box
        size = 2.0 * max(x2 - x1, y2 - y1)
        patch = cv2.getRectSubPix(photo, (int(size), int(size)), (float(x1 + x2) / 2, float(y1 + y2) / 2))
        folder = root / f"person{person}"
        folder.mkdir()
        versions = [patch, degrade.defocus(patch, 2.0), degrade.low_light(patch, 0.4), degrade.jpeg(patch, 15)]
        for i, image in enumerate(versions):
            cv2.imwrite(str(folder / f"{i}.png"), image)
    return root


def test_eval_writes_table_json_and_plots(small_gallery, tmp_path):
    out = tmp_path / "eval"
    proc = run_cli("eval", small_gallery, "--scorers", "random,blur,combined", "--no-peer", "--splits", "2",
                   "--out", out, "--workers", "1", env={"FQSELECT_CACHE": str(tmp_path / "cache")})  # not the user's
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["faces"] == 24 and results["identities"] == 6
    assert set(results["scorers"]) == {"random", "blur", "combined", "oracle"}
    for row in results["scorers"].values():
        assert len(row["edc"]) == len(results["discard_grid"])
        assert 0 <= row["pauc_20"] <= 1 and "top1" in row["templates"]
    table = (out / "results.md").read_text()
    assert "| oracle |" in table and "EDC pAUC 20%" in table
    pytest.importorskip("matplotlib")
    assert (out / "edc.png").stat().st_size > 1000 and (out / "tar.png").stat().st_size > 1000


def test_eval_rejects_a_missing_dataset(tmp_path):
    proc = run_cli("eval", tmp_path / "nowhere")
    assert proc.returncode == 2 and "dataset folder not found" in proc.stderr


@pytest.mark.skipif(not (SHARED / "data" / "lfw" / "peopleDevTest.txt").is_file(), reason="../shared data not present")
def test_shipped_network_beats_random_and_blur_on_heldout_lfw(tmp_path):
    from fqselect.options import DEFAULT_NETWORK
    from fqselect.quality.network import available_networks

    if DEFAULT_NETWORK not in available_networks():
        pytest.skip("no trained network in weights/")
    lfw = SHARED / "data" / "lfw"
    proc = run_cli("eval", lfw / "images", "--people", lfw / "peopleDevTest.txt", "--scorers",
                   f"random,blur,{DEFAULT_NETWORK}", "--no-peer", "--splits", "1", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "results.json").read_text())["scorers"]
    assert rows[DEFAULT_NETWORK]["pauc_20"] < rows["random"]["pauc_20"]
    assert rows[DEFAULT_NETWORK]["pauc_20"] < rows["blur"]["pauc_20"]
