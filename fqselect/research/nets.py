"""Quality networks in PyTorch (training only; inference runs their ONNX export with onnxruntime)."""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """The block both networks stack (tinyFQnet Fig. 4; MobileNetV3 without squeeze-excite, ReLU): 1×1
    expand, k×k depthwise, 1×1 project; residual when stride and channels allow."""

    def __init__(self, cin: int, kernel: int, expand: int, cout: int, stride: int):
        super().__init__()
        layers = [] if expand == cin else [conv_bn(cin, expand)]
        layers += [conv_bn(expand, expand, kernel, stride, groups=expand), conv_bn(expand, cout, relu=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class TinyFQNet(nn.Module):
    """tinyFQnet, Table I of the paper: 7 blocks, 256-channel 1×1 conv, pool, fc, sigmoid. The paper's
    input is 64×64; at 112×112 (the ArcFace crop itself, no resize) the same 13k weights cost 3× the
    multiply-adds and see every pixel the recogniser sees (at 64 a face's eyes are ~20 px apart, at 112
    ~35 px, as for the recogniser)."""
    # (in, expand, out, stride) per block, as Table I lists them
    blocks = [(11, 8, 2, 1), (2, 8, 5, 2), (5, 20, 5, 1), (5, 20, 11, 2), (11, 44, 11, 1), (11, 44, 11, 1), (11, 44, 22, 1)]

    def __init__(self, input_size: int = 64, width: float = 1.0):
        super().__init__()
        self.input_size = input_size
        scaled = lambda c: max(2, round(c * width))  # noqa: E731 (width multiplier, as MobileNets have)
        self.stem = conv_bn(3, scaled(11), 3, 2)
        self.features = nn.Sequential(*[InvertedResidual(scaled(cin), 3, scaled(expand), scaled(cout), stride)
                                        for cin, expand, cout, stride in self.blocks])
        self.head = conv_bn(scaled(22), 256)
        self.fc = nn.Linear(256, 1)

    def forward(self, x):
        x = self.head(self.features(self.stem(x)))
        return torch.sigmoid(self.fc(x.mean(dim=(2, 3))))


class WideTinyFQNet(nn.Module):
    """A tinyfqnet redesign for the 112×112 crop within the same budget class (≤25k weights, ≤10 M
    multiply-adds): Table I narrows to 2 channels at 56×56, where blur, eyes and landmark error are still
    visible; here the stages keep 16–48 channels (depthwise-separable, MobileNetV2 blocks) and the
    weights saved in the 256-wide head pay for them."""
    # (in, expand, out, stride); the first is depthwise-separable (expand == in)
    blocks = [(16, 16, 16, 1), (16, 16, 24, 2), (24, 48, 24, 1), (24, 72, 32, 2), (32, 64, 32, 1), (32, 64, 48, 2)]

    def __init__(self, input_size: int = 112, head: int = 80):
        super().__init__()
        self.input_size = input_size
        self.stem = conv_bn(3, 16, 3, 2)
        self.features = nn.Sequential(*[InvertedResidual(cin, 3, expand, cout, stride) for cin, expand, cout, stride in self.blocks])
        self.head = conv_bn(self.blocks[-1][2], head)
        self.fc = nn.Linear(head, 1)

    def forward(self, x):
        x = self.head(self.features(self.stem(x)))
        return torch.sigmoid(self.fc(x.mean(dim=(2, 3))))


class ScaleAwareTinyFQNet(WideTinyFQNet):
    """tinyfqnet-wide told how large the face was in its source frame (`score.scale_feature`: log2 of the
    eye distance in source pixels over the crop's). In the 112 crop a face whose eyes were 20 px apart
    and one whose eyes were 35 px apart can look alike, while the recogniser, and the face's future
    matches, tell them apart. The scale enters as a learned per-channel bias after the stem and before
    the head's ReLU (192 weights), so it can change what the network looks for, not only shift its score."""

    takes_scale = True

    def __init__(self, input_size: int = 112, head: int = 80):
        super().__init__(input_size, head)
        self.stem_scale = nn.Linear(1, self.blocks[0][0])
        self.head_scale = nn.Linear(1, head)

    def forward(self, x, scale):
        x = self.features(self.stem(x) + self.stem_scale(scale)[:, :, None, None])
        conv, norm, relu = self.head
        x = relu(norm(conv(x)) + self.head_scale(scale)[:, :, None, None])
        return torch.sigmoid(self.fc(x.mean(dim=(2, 3))))


class LightQNet(nn.Module):
    """LightQNet-style MobileNetV3-small-lite at 96×96: first stride 1 (the paper's change), no SE, ReLU."""

    # MobileNetV3-small: (kernel, expand, out, stride)
    blocks = [(3, 16, 16, 2), (3, 72, 24, 2), (3, 88, 24, 1), (5, 96, 40, 2), (5, 240, 40, 1), (5, 240, 40, 1),
              (5, 120, 48, 1), (5, 144, 48, 1), (5, 288, 96, 2), (5, 576, 96, 1), (5, 576, 96, 1)]

    def __init__(self, input_size: int = 96):
        super().__init__()
        self.input_size = input_size
        self.stem = conv_bn(3, 16, 3, 1)
        layers, cin = [], 16
        for kernel, expand, cout, stride in self.blocks:
            layers.append(InvertedResidual(cin, kernel, expand, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = conv_bn(cin, 576)
        self.fc = nn.Linear(576, 1)

    def forward(self, x):
        x = self.head(self.features(self.stem(x)))
        return torch.sigmoid(self.fc(x.mean(dim=(2, 3))))


ARCHITECTURES = {"tinyfqnet": TinyFQNet, "tinyfqnet-wide": WideTinyFQNet, "tinyfqnet-scale": ScaleAwareTinyFQNet,
                 "lightqnet": LightQNet}


def example_inputs(model: nn.Module, batch: int = 1, random: bool = False) -> tuple:
    """What the model's forward takes, for counting, tracing and export: the crop batch, and the scale
    column for a scale-aware network."""
    make = torch.randn if random else torch.zeros
    shape = model.input_shape if hasattr(model, "input_shape") else (3, model.input_size, model.input_size)
    crops = make(batch, *shape)
    return (crops, make(batch, 1)) if getattr(model, "takes_scale", False) else (crops,)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-adds of one forward pass, from the conv and linear layers' output shapes."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(*example_inputs(model))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total
