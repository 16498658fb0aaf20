"""SFace (OpenCV Zoo, 128-d, Apache-2.0), the default recogniser, shipped in zoo/weights/opencv_zoo/ and
repaired once on first use."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..cores import across_cores
from ..errors import UsageError
from ..zoo.files import cache_dir, packaged_model
from ..zoo.registry import register_model
from ..zoo.sessions import create_session
from .recognize import batched, normalised

if TYPE_CHECKING:
    import onnx

SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
REPAIR_VERSION = 1  # bump when repair_sface changes: the cached file is named by it
# Operating points (cosine similarity): `match` at FMR 1e-3 (persons are merged and gallery names given
# above it); `link` and `link_min` link a face to a track on its own or with overlapping boxes. Measured on
# the training identities (`fqselect train` prints the FMR 1e-3 point).
SFACE_POINTS = {"match": 0.38, "link": 0.5, "link_min": 0.2}


def repair_sface(model: "onnx.ModelProto") -> "onnx.ModelProto":
    """Fix the two traps of the SFace file as OpenCV Zoo publishes it, in memory.

    1. It lists its stale weight names as graph inputs, which onnxruntime refuses: keep only `data`.
    2. Its int8 weights are block-dequantized on every call, which makes it several times slower: run the DequantizeLinear nodes
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
    """The repaired SFace file: made once from the shipped one and cached on disk, so later
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


@register_model("recognizer", "sface", "2021dec-int8", source="fqselect/zoo/weights/opencv_zoo (Apache-2.0)", **SFACE_POINTS)
class SFaceRecognizer:
    """SFace, repaired once (`repaired_sface`). Input RGB 0..255; the graph normalises."""

    name = "sface"
    batch_size = 1  # on the CPU, larger batches cost more per face (docs/benchmarks.md)

    def __init__(self):
        self.session = create_session(repaired_sface(), threads=1)  # a batch is split over the cores
        self.input_name = self.session.get_inputs()[0].name

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return normalised(self.features(crops))

    def features(self, crops: np.ndarray) -> np.ndarray:
        """The features before normalisation: their length grows with how recognisable the face is
        (the research harness learns quality from it)."""
        blob = crops[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        parts = across_cores(lambda part: batched(self.session, self.input_name, part, self.batch_size), blob)
        return np.concatenate(parts).astype(np.float32)
