"""Make fqselect/zoo/weights/mediapipe/iris_landmark.onnx from MediaPipe's iris landmark model (Apache-2.0).

The model ships inside the `mediapipe` 0.10.14 wheel on PyPI (mediapipe/modules/iris_landmark/
iris_landmark.tflite). This converts it once with `tflite2onnx` and gives it a batch axis; fqselect then
runs it with onnxruntime and needs neither package. Run by a developer, never at run time:

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mediapipe
    pip install tflite2onnx==0.4.1
    python scripts/convert_iris_landmark.py /tmp/mediapipe/mediapipe-0.10.14-*.whl
"""

from __future__ import annotations

import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mediapipe/modules/iris_landmark/iris_landmark.tflite"
OUT = Path(__file__).resolve().parent.parent / "fqselect" / "zoo" / "weights" / "mediapipe" / "iris_landmark.onnx"


def main(wheel: str) -> None:
    import onnx
    import onnxruntime
    import tflite2onnx
    from onnx import numpy_helper

    with tempfile.TemporaryDirectory() as work:
        tflite = Path(work) / "iris_landmark.tflite"
        tflite.write_bytes(zipfile.ZipFile(wheel).read(MEMBER))
        single = Path(work) / "single.onnx"
        tflite2onnx.convert(str(tflite), str(single))
        model = onnx.load(str(single))
    graph = model.graph
    for tensor in (*graph.input, *graph.output):  # a batch axis: every eye of a frame in one call
        tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    widths = {o.name: o.type.tensor_type.shape.dim[1].dim_value for o in graph.output}
    for node in graph.node:  # the outputs' reshapes kept the batch of 1: a shape of their own each
        if node.op_type == "Reshape" and node.output[0] in widths:
            shape = numpy_helper.from_array(np.array([-1, widths[node.output[0]]], np.int64), f"{node.output[0]}_shape")
            graph.initializer.append(shape)
            node.input[1] = shape.name
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(OUT))
    batch = np.random.default_rng(0).random((3, 3, 64, 64), np.float32)
    session = onnxruntime.InferenceSession(str(OUT))
    together = session.run(None, {"input_1": batch})
    alone = [session.run(None, {"input_1": batch[i : i + 1]}) for i in range(3)]
    assert all(np.allclose(together[k][i], alone[i][k][0], atol=1e-4) for i in range(3) for k in range(2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
