"""What both video readers (PyAV's and OpenCV's) share: the path FFmpeg is given, size limits, the frame
count and the damage and truncation checks."""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..errors import InputError
from ..options import Sampling
from .frame import Source
from .images import MAX_IMAGE_PIXELS

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts", ".3gp", ".ogv"}
TRUNCATION_TOLERANCE = 0.9  # fewer decoded frames than this share of the container's count = truncated
FALLBACK_FPS = 25.0
SEEK_MARGIN = 1.0  # --start seeks this many seconds early, then decodes forward by timestamp


class Video(Source):
    """What both video readers share: the path FFmpeg is given, the frame count and truncation check."""

    kind = "video"
    bytes_per_pixel = 3  # frames wait as BGR images
    path: str
    sampling: Sampling
    fps: float
    frame_count: int
    _link: str | None = None

    def _decodable_path(self) -> str:
        """The path FFmpeg is given. A name that is not valid UTF-8 (undecodable bytes, which Python keeps
        as surrogates) crashes cv2.VideoCapture with a segfault: such a file is opened through a symlink
        with a plain name in a private temporary folder (removed on close)."""
        try:
            self.path.encode("utf-8")
            return self.path
        except UnicodeEncodeError:
            pass
        if self._link is None:
            import tempfile

            folder = tempfile.mkdtemp(prefix="fqselect-")
            self._link = os.path.join(folder, "input" + Path(self.path).suffix.encode("ascii", "replace").decode())
            os.symlink(os.path.abspath(self.path), self._link)
        return self._link

    def _refuse(self, reason: str) -> InputError:
        """The error for a file this reader cannot take, with what it opened released."""
        self.close()
        return InputError(self.path, reason)

    @staticmethod
    def _oversized(width: int, height: int) -> str | None:
        """Why frames of this size are refused (the --max-pixels cap images have), or None."""
        if width * height > MAX_IMAGE_PIXELS:
            return f"video frames of {width}×{height} are larger than {MAX_IMAGE_PIXELS:,} pixels"
        return None

    def seconds(self) -> float | None:
        """How many seconds of video will be read, from --start to --end or the end (None when the
        container does not say how long it is)."""
        if not self.frame_count:
            return None
        end = self.frame_count / self.fps if self.sampling.end is None else min(self.sampling.end, self.frame_count / self.fps)
        return max(0.0, end - self.sampling.start)

    def planned_frames(self) -> int | None:
        """How many frames will be analysed, for progress bars (None when unknown; from the average frame
        rate, so approximate for variable-frame-rate video)."""
        if not self.frame_count:
            return None
        end = self.frame_count / self.fps if self.sampling.end is None else min(self.sampling.end, self.frame_count / self.fps)
        count = max(0, math.ceil((end - self.sampling.start) * self.fps / self.sampling.stride(self.fps)))
        return min(count, self.sampling.max_frames) if self.sampling.max_frames else count

    def _check_damage(self, damaged: int, reached: int, stopped_early: bool) -> None:
        if damaged:
            self.warnings.append(f"damaged video: {damaged} packets could not be decoded")
        self._check_truncation(reached, stopped_early)

    def _check_truncation(self, reached: int, stopped_early: bool) -> None:
        expected = self.frame_count
        if reached == 0:
            raise InputError(self.path, "no frame could be decoded (corrupt or truncated video)")
        if not stopped_early and expected and reached < TRUNCATION_TOLERANCE * expected:
            self.warnings.append(f"truncated video: decoded {reached} of {expected} frames")

    def close(self) -> None:
        if self._link is not None:
            import shutil

            shutil.rmtree(os.path.dirname(self._link), ignore_errors=True)
            self._link = None
