"""Make fqselect/zoo/weights/mediapipe/face_landmark.onnx from MediaPipe's face mesh model (Apache-2.0).

The model ships inside the `mediapipe` 0.10.14 wheel on PyPI (mediapipe/modules/face_landmark/
face_landmark.tflite): 468 points on a face in a 192×192 crop, and a face-presence logit. Its weights are
stored in float16 behind DEQUANTIZE ops, on which `tflite2onnx` 0.4.1 fails, and it uses only six other
ops, so this script translates it itself: it reads the flatbuffer with the `tflite` package and writes the
same graph in ONNX, channels first, with a batch axis and float32 weights. fqselect then runs it with
onnxruntime and needs neither package. Run by a developer, never at run time:

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mediapipe
    pip install tflite==2.18.0
    python scripts/convert_face_landmark.py /tmp/mediapipe/mediapipe-0.10.14-*.whl [--check VENV_PYTHON]

`--check` names a Python that has `ai-edge-litert` (LiteRT, TensorFlow Lite's interpreter): the script
then runs both models on random crops and asserts they give the same points.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
OUT = Path(__file__).resolve().parent.parent / "fqselect" / "zoo" / "weights" / "mediapipe" / "face_landmark.onnx"
SIDE = 192


def translate(data: bytes):
    """The ONNX model of the tflite model `data` (input `input_1`: N×3×192×192 RGB in [0, 1])."""
    import onnx
    import tflite
    from onnx import TensorProto, helper, numpy_helper

    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    ops = {value: name for name, value in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
    types = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32,
             tflite.TensorType.INT32: np.int32}

    def name(index: int) -> str:
        return graph.Tensors(index).Name().decode()

    def constant(index: int) -> np.ndarray:
        tensor = graph.Tensors(index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        return np.frombuffer(raw.tobytes(), types[tensor.Type()]).reshape(tensor.ShapeAsNumpy())

    weights: dict[str, np.ndarray] = {}  # tflite layout, float32
    nodes, initializers = [], []

    def initializer(array: np.ndarray, label: str) -> str:
        initializers.append(numpy_helper.from_array(array, label))
        return label

    def activation(output: str, fused: int) -> str:
        """Insert the op's fused activation after it; the name its result goes under."""
        if fused == tflite.ActivationFunctionType.NONE:
            return output
        if fused != tflite.ActivationFunctionType.RELU:
            raise SystemExit(f"{output}: fused activation {fused} is not translated")
        nodes.append(helper.make_node("Relu", [output + "_linear"], [output]))
        return output + "_linear"

    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        kind = ops[model.OperatorCodes(op.OpcodeIndex()).BuiltinCode()]
        inputs, (output,) = list(op.InputsAsNumpy()), [name(i) for i in op.OutputsAsNumpy()]
        options = op.BuiltinOptions()
        if kind == "DEQUANTIZE":
            weights[output] = constant(inputs[0]).astype(np.float32)
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            conv = (tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions)()
            conv.Init(options.Bytes, options.Pos)
            kernel, bias = weights[name(inputs[1])], weights[name(inputs[2])]
            if kind == "CONV_2D":  # OHWI → OIHW
                kernel, groups = kernel.transpose(0, 3, 1, 2), 1
            else:  # 1HW(C·M) → (C·M)1HW, one group per input channel
                if conv.DepthMultiplier() != 1:
                    raise SystemExit(f"{output}: depth multiplier {conv.DepthMultiplier()} is not translated")
                kernel, groups = kernel.transpose(3, 0, 1, 2), kernel.shape[3]
            pad = "SAME_UPPER" if conv.Padding() == tflite.Padding.SAME else "VALID"  # TensorFlow's SAME pads the end more
            nodes.append(helper.make_node(
                "Conv", [name(inputs[0]), initializer(kernel, output + "/W"), initializer(bias, output + "/B")],
                [activation(output, conv.FusedActivationFunction())], auto_pad=pad, group=groups,
                strides=[conv.StrideH(), conv.StrideW()], dilations=[conv.DilationHFactor(), conv.DilationWFactor()]))
        elif kind == "PRELU":  # alpha (1, 1, C) → (C, 1, 1)
            alpha = weights[name(inputs[1])]
            alpha = alpha.reshape(-1, alpha.shape[-1]).transpose(1, 0).reshape(alpha.shape[-1], 1, 1)
            nodes.append(helper.make_node("PRelu", [name(inputs[0]), initializer(alpha, output + "/alpha")], [output]))
        elif kind == "ADD":
            add = tflite.AddOptions()
            add.Init(options.Bytes, options.Pos)
            nodes.append(helper.make_node("Add", [name(i) for i in inputs], [activation(output, add.FusedActivationFunction())]))
        elif kind == "MAX_POOL_2D":
            pool = tflite.Pool2DOptions()
            pool.Init(options.Bytes, options.Pos)
            pad = "SAME_UPPER" if pool.Padding() == tflite.Padding.SAME else "VALID"
            nodes.append(helper.make_node(
                "MaxPool", [name(inputs[0])], [activation(output, pool.FusedActivationFunction())], auto_pad=pad,
                kernel_shape=[pool.FilterHeight(), pool.FilterWidth()], strides=[pool.StrideH(), pool.StrideW()]))
        elif kind == "PAD":  # NHWC (before, after) pairs → ONNX NCHW begins then ends
            pairs = constant(inputs[1])[[0, 3, 1, 2]]
            pads = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
            nodes.append(helper.make_node("Pad", [name(inputs[0]), initializer(pads, output + "/pads")], [output]))
        else:
            raise SystemExit(f"{output}: tflite op {kind} is not translated")

    (source,) = [name(i) for i in graph.InputsAsNumpy()]
    flat = []
    for index in graph.OutputsAsNumpy():  # N×C×1×1 → N×C
        out, width = name(index), int(graph.Tensors(index).ShapeAsNumpy()[-1])
        nodes.append(helper.make_node("Flatten", [out], [out + "/flat"], axis=1))
        flat.append(helper.make_tensor_value_info(out + "/flat", TensorProto.FLOAT, ["N", width]))
    graph_proto = helper.make_graph(
        nodes, "mediapipe_face_landmark",
        [helper.make_tensor_value_info(source, TensorProto.FLOAT, ["N", 3, SIDE, SIDE])], flat, initializers)
    onnx_model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 13)],
                                   producer_name="fqselect scripts/convert_face_landmark.py")
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model


def check(tflite_path: Path, onnx_path: Path, python: str) -> None:
    """Run both models on the same crops, the tflite one under `python` (LiteRT); same points, or fail."""
    import onnxruntime

    batch = np.random.default_rng(0).random((3, SIDE, SIDE, 3), np.float32)
    with tempfile.TemporaryDirectory() as work:
        np.save(Path(work) / "in.npy", batch)
        code = (
            "import numpy as np, sys, json\n"
            "from ai_edge_litert.interpreter import Interpreter\n"
            f"it = Interpreter(model_path={str(tflite_path)!r}); it.allocate_tensors()\n"
            f"batch = np.load({str(Path(work) / 'in.npy')!r}); outs = []\n"
            "for crop in batch:\n"
            "    it.set_tensor(it.get_input_details()[0]['index'], crop[None])\n"
            "    it.invoke()\n"
            "    outs.append([it.get_tensor(d['index']).ravel().tolist() for d in it.get_output_details()])\n"
            "print(json.dumps(outs))\n")
        expected = json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout)
    session = onnxruntime.InferenceSession(str(onnx_path))
    points, presence = session.run(None, {"input_1": batch.transpose(0, 3, 1, 2)})
    for i, (tf_a, tf_b) in enumerate(expected):
        tf_points, tf_presence = (tf_a, tf_b) if len(tf_a) == points.shape[1] else (tf_b, tf_a)
        gap = np.abs(np.array(tf_points) - points[i]).max()
        print(f"crop {i}: largest point difference {gap:.4f} px, presence {presence[i, 0]:.3f} / {tf_presence[0]:.3f}")
        assert gap < 0.05 and abs(presence[i, 0] - tf_presence[0]) < 0.01


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel")
    parser.add_argument("--check", metavar="PYTHON", help="a Python with ai-edge-litert, to compare the outputs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tflite_path = Path(work) / "face_landmark.tflite"
        tflite_path.write_bytes(zipfile.ZipFile(args.wheel).read(MEMBER))
        onnx_model = translate(tflite_path.read_bytes())
        OUT.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(onnx_model, str(OUT))
        if args.check:
            check(tflite_path, OUT, args.check)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    sys.exit(main())
