"""One model registry: every detector, recogniser and scorer is known by name, checked before loading,
and created the same way; operating points travel with the recogniser."""

import subprocess
import sys

import pytest

from fqselect.errors import UsageError
from fqselect.zoo.registry import check_model, create_model, list_models, model_info


def test_every_kind_is_registered_with_its_models():
    names = {(m.kind, m.name) for m in list_models()}
    assert {("detector", "retinaface"), ("detector", "yunet"), ("detector", "scrfd"), ("recognizer", "sface"),
            ("recognizer", "arcface"), ("scorer", "blur"), ("scorer", "combined")} <= names
    assert all(m.version and m.source for m in list_models())


def test_unknown_names_list_the_choices():
    with pytest.raises(UsageError, match="unknown detector 'mtcnn' .*retinaface.*yunet"):
        create_model("detector", "mtcnn")


def test_a_model_needing_a_pack_says_so_before_loading():
    with pytest.raises(UsageError, match="needs --model-pack"):
        check_model("detector", "scrfd")
    assert model_info("recognizer", "arcface").needs_pack


def test_recognizer_carries_its_operating_points():
    from fqselect.faces.recognize import load_recognizer

    sface = load_recognizer()
    assert sface.points["match"] == model_info("recognizer", "sface").info["match"]
    assert 0 < sface.points["link_min"] < sface.points["match"] < sface.points["link"] < 1


def test_models_command_lists_and_cuda_is_refused_where_missing(tmp_path):
    listing = subprocess.run([sys.executable, "-m", "fqselect", "models"], capture_output=True, text=True)
    assert listing.returncode == 0 and "retinaface" in listing.stdout and "sface" in listing.stdout
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    run = subprocess.run([sys.executable, "-m", "fqselect", "x.mp4", "--provider", "cuda"], capture_output=True, text=True)
    assert run.returncode == 2 and "no CUDAExecutionProvider" in run.stderr and "Traceback" not in run.stderr


def test_missing_gallery_is_a_usage_error_before_any_work(tmp_path, clip):
    path, _ = clip
    run = subprocess.run([sys.executable, "-m", "fqselect", str(path), "--gallery", str(tmp_path / "nobody")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "gallery folder not found" in run.stderr
