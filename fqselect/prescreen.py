"""Stage 1½ — pre-screening: pick which decoded video frames are worth the detector.

Detection costs ~25 ms a frame; decoding a 720p frame costs a few. So by default each short window of
video is first analysed at its sharpest frame, judged on a small grey thumbnail (well under a
millisecond); the window's other frames are analysed only when that frame holds a face that could still
enter the picks. Windows that cannot win never reach the detector again.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import cv2
import numpy as np

from .decode import Frame

DEFAULT_WINDOW = 0.5  # seconds of video reduced to one analysed frame
THUMBNAIL_WIDTH = 320


def frame_sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of a grey thumbnail: cheap, and high for sharp frames. The thumbnail is
    a strided view (no filtering): an area resize of a 1080p frame would cost more than it saves."""
    step = max(1, image.shape[1] // THUMBNAIL_WIDTH)
    gray = cv2.cvtColor(np.ascontiguousarray(image[::step, ::step]), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_16S).var())


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


def sharpest_first(group: list[Frame]) -> list[Frame]:
    """The window's sharpest frame first, then the others in time order."""
    best = max(range(len(group)), key=lambda i: frame_sharpness(group[i].image))
    return [group[best], *group[:best], *group[best + 1 :]]
