"""Pre-screening: which decoded video frames are worth the detector.

Detection costs an order of magnitude more than decoding a frame, and converting a frame to BGR about
as much as decoding it. So the pre-screen judges each decoded frame on its luminance plane as the
decoder left it (a strided thumbnail, no conversion), and each window of video goes to the detector at
its sharpest frame, the only one converted. Only when that frame holds a face that could still enter the
picks do the window's next-sharpest frames go to the detector too (run.job.REFINE_FRAMES). Only those
few frames a window stay in memory. Windows lie on a grid of `window` seconds from --start, so a video
decoded in chunks (decode.chunks) gives the windows one reader gives: each chunk's decoder thread
pre-screens its own frames, and `joined` makes one window of the parts a chunk boundary splits. A video
read whole is pre-screened on the analysis thread, so that the decoder's thread only decodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import cv2
import numpy as np

from .frame import FRAME_TIME_SLACK, Frame

THUMBNAIL_WIDTH = 320


def frame_sharpness(luma: np.ndarray) -> float:
    """Variance of the Laplacian of a thumbnail of the luminance (`Frame.luma`): cheap, and high for
    sharp frames. The thumbnail is a strided view, no filtering: an area resize of a 1080p frame would
    cost more than it saves."""
    step = max(1, luma.shape[1] // THUMBNAIL_WIDTH)
    laplacian = cv2.Laplacian(np.ascontiguousarray(luma[::step, ::step]), cv2.CV_16S)
    # E[x²] − E[x]² from two whole-array sums: the same number as cv2.meanStdDev, in a third of its time
    # (it runs on every decoded frame)
    count = laplacian.size
    return cv2.norm(laplacian, cv2.NORM_L2SQR) / count - (cv2.sumElems(laplacian)[0] / count) ** 2


@dataclass
class Window:
    """The frames of one stretch of video worth the detector, sharpest first, how many were looked at, and
    the times of the first and last of them. `slot`: which `window`-second stretch from the origin it
    is; `ranked`: (-sharpness, time) of each of `frames`, what `joined` merges by."""

    frames: list[Frame]
    looked_at: int
    start: float = 0.0
    end: float = 0.0
    slot: int = 0
    ranked: list[tuple[float, float]] = field(default_factory=list)


def sharpest_per_window(frames: Iterable[Frame], window: float, keep: int | None, origin: float = 0.0) -> Iterator[Window]:
    """Consecutive frames grouped into the `window`-second stretches from `origin` they fall in, each
    reduced to its `keep` sharpest (all when None). Memory: `keep` frames, as the others are dropped as
    soon as they cannot be among them."""
    best: list[tuple[float, float, Frame]] = []  # (-sharpness, time, frame): the sharpest, then the earliest
    looked_at, slot, start, last = 0, 0, 0.0, 0.0
    for frame in frames:
        # the slack keeps a frame stamped a rounding error before a boundary (0.9999999 s) in the next one
        here = math.floor((frame.time - origin) / window + FRAME_TIME_SLACK) if math.isfinite(window) else 0
        if looked_at and here != slot:
            yield _window(best, looked_at, start, last, slot)
            best, looked_at = [], 0
        if not looked_at:
            slot, start = here, frame.time
        looked_at, last = looked_at + 1, frame.time
        best.append((-frame_sharpness(frame.luma), frame.time, frame))
        if keep is not None and len(best) > keep:
            best.remove(max(best, key=lambda entry: entry[:2]))
    if looked_at:
        yield _window(best, looked_at, start, last, slot)


def _window(best: list[tuple[float, float, Frame]], looked_at: int, start: float, end: float, slot: int) -> Window:
    best = sorted(best, key=lambda entry: entry[:2])
    return Window([f for *_, f in best], looked_at, start, end, slot, [entry[:2] for entry in best])


def joined(windows: Iterable[Window], keep: int | None) -> Iterator[Window]:
    """Windows of one slot that come in parts made one (a chunk boundary of `chunks.ChunkedVideo` can
    fall inside a window: each chunk reduces its part), keeping the `keep` sharpest of their frames."""
    held: Window | None = None
    for window in windows:
        if held is not None and window.slot == held.slot:
            ranked = sorted(zip(held.ranked + window.ranked, held.frames + window.frames), key=lambda pair: pair[0])[:keep]
            held = Window([f for _, f in ranked], held.looked_at + window.looked_at, held.start, window.end, held.slot,
                          [r for r, _ in ranked])
            continue
        if held is not None:
            yield held
        held = window
    if held is not None:
        yield held


def every_frame(frames: Iterable[Frame]) -> Iterator[Window]:
    """No pre-screening (--exhaustive, explicit sampling, images): every frame is its own window."""
    return (Window([frame], 1, frame.time, frame.time) for frame in frames)
