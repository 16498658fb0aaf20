"""What every reader hands on: `Frame`s, chosen by a `Sampling` (applied by `Schedule`), from a `Source`."""

from __future__ import annotations

import cv2
import numpy as np

from ..options import Sampling

FRAME_TIME_SLACK = 1e-4  # seconds; timestamps are rounded to the container's time base
# Pixel formats whose first plane is the 8-bit luminance itself, ready to judge without conversion.
LUMA_FIRST_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                      "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray"}


class Frame:
    """One decoded frame. `image` (BGR uint8) is converted from the decoder's picture on first use, so a
    frame the pre-screen drops is never converted; `luma` is its luminance, for judging sharpness."""

    __slots__ = ("index", "time", "source", "captured_at", "_image", "_picture", "_rotate")

    def __init__(self, index: int, time: float, image: np.ndarray | None, source: str,
                 picture=None, rotate: int | None = None):
        self.index = index  # 0-based frame index in the video; the image's position in a folder; 0 for one image
        self.time = time  # seconds from the start of the video (presentation timestamp); 0 for images
        self.source = source  # the file this frame came from (the image's own path inside a folder)
        self.captured_at = None  # a live stream's frames: when it arrived (ISO 8601, UTC)
        self._image, self._picture, self._rotate = image, picture, rotate

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            image = self._picture.to_ndarray(format="bgr24")
            self._image = image if self._rotate is None else cv2.rotate(image, self._rotate)
            self._picture = None
        return self._image

    @property
    def converted(self) -> bool:
        """Whether the BGR image exists yet (the pre-screen never makes it for the frames it drops)."""
        return self._image is not None

    @property
    def luma(self) -> np.ndarray:
        """The luminance plane as the decoder left it (8-bit YUV: no conversion at all), else the BGR
        image's green channel (luminance's main part); not rotated."""
        picture = self._picture
        if picture is not None and picture.format.name in LUMA_FIRST_FORMATS:
            plane = picture.planes[0]
            return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: picture.height, : picture.width]
        return self.image[:, :, 1]


class Source:
    """What every input kind shares: `with open_input(path) as source:` releases what it holds."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_) -> None:
        self.close()


class Schedule:
    """The sampling rules, applied to a video's frames in display order: `wants(index, time)` says
    whether a frame is sampled, `took()` counts one handed on, `over(time)` whether --end is reached,
    `full` whether --max-frames is."""

    def __init__(self, sampling: Sampling, fps: float | None = None):
        self.start, self.end, self.limit = sampling.start, sampling.end, sampling.max_frames
        fps = fps or sampling.fps
        self.every, self.period = max(1, sampling.every), 1.0 / fps if fps else 0.0
        self.first, self.due, self.emitted = None, sampling.start, 0  # due: when the next --fps sample is due

    @property
    def full(self) -> bool:
        return self.limit is not None and self.emitted >= self.limit

    def over(self, time: float) -> bool:
        return self.end is not None and time >= self.end

    def wants(self, index: int, time: float) -> bool:
        if time < self.start:
            return False
        self.first = index if self.first is None else self.first
        if (index - self.first) % self.every or time < self.due - FRAME_TIME_SLACK:
            return False
        self.due = self.due + self.period if time - self.due < self.period else time + self.period  # after a gap: restart
        return True

    def took(self) -> None:
        """A wanted frame was handed on (counts against --max-frames)."""
        self.emitted += 1
