"""Stage 1½ — pre-screening: pick which decoded video frames are worth the detector.

Detection costs ~20 ms a frame; decoding a 720p frame costs under 2 ms, half of it the colour
conversion. So by default only PRESCREEN_FPS frames a second are converted at all, and each window of
video goes to the detector at its sharpest of those, judged on a small thumbnail (a fraction of a
millisecond). Only when that frame holds a face that could still enter the picks do the window's
next-sharpest frames go to the detector too (pipeline.REFINE_FRAMES).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from .decode import Frame

DEFAULT_WINDOW = 1.0  # seconds of video reduced to one analysed frame: picks are a second apart anyway
PRESCREEN_FPS = 6.0  # frames a second converted to pixels and judged; the rest are only grabbed
THUMBNAIL_WIDTH = 320


def frame_sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of a thumbnail of the green channel (luminance's main part): cheap, and
    high for sharp frames. The thumbnail is a strided view, no filtering: an area resize of a 1080p frame
    would cost more than it saves."""
    step = max(1, image.shape[1] // THUMBNAIL_WIDTH)
    green = np.ascontiguousarray(image[::step, ::step, 1])
    _, deviation = cv2.meanStdDev(cv2.Laplacian(green, cv2.CV_16S))
    return float(deviation[0, 0]) ** 2


def windows(frames: Iterable[Frame], window: float) -> Iterator[list[Frame]]:
    """Consecutive frames grouped into `window`-second lists (memory: one window of frames)."""
    group: list[Frame] = []
    for frame in frames:
        if group and frame.time >= group[0].time + window:
            yield group
            group = []
        group.append(frame)
    if group:
        yield group


def sharpness_order(group: list[Frame]) -> list[int]:
    """Indices of the window's frames, sharpest first."""
    if len(group) == 1:
        return [0]
    return [int(i) for i in np.argsort([-frame_sharpness(frame.image) for frame in group], kind="stable")]
