"""The fallback video reader: OpenCV's VideoCapture, for files PyAV cannot open."""

from __future__ import annotations

import math
from typing import Iterator

import cv2

from ..cores import decoder_threads
from ..options import Sampling
from .frame import Frame, Schedule
from .video import FALLBACK_FPS, SEEK_MARGIN, Video

# Where OpenCV decodes, a frame must be converted to BGR to be judged at all: the pre-screen then looks at
# this many frames a second, and the others are only grabbed.
OPENCV_PRESCREEN_FPS = 6.0


class OpenCVVideoInput(Video):
    """Frames of a video file through OpenCV's VideoCapture: the fallback for files PyAV cannot open.
    Frames that sampling skips are only `grab()`bed, never `retrieve()`d (converted to BGR); for the
    pre-screen, OPENCV_PRESCREEN_FPS frames a second are converted."""

    def __init__(self, path: str, sampling: Sampling = Sampling()):
        self.path, self.sampling, self.warnings = path, sampling, []
        threads = decoder_threads()
        self.capture = self._open(threads)
        if not self.capture.isOpened():
            raise self._refuse("cannot open as a video (corrupt, truncated or not a video)")
        width, height = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if oversized := self._oversized(width, height):
            raise self._refuse(oversized)
        self.pixels = width * height
        if decoder_threads(self.pixels) != threads:  # FFmpeg's threads are set when a file is opened
            self.capture.release()
            self.capture = self._open(decoder_threads(self.pixels))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else FALLBACK_FPS
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.decoded = 0  # frames the decoder got through (grabbed); a seek skips the ones before --start

    def _open(self, threads: int) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self._decodable_path(), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # phone videos come out upright
        return capture

    def frames(self) -> Iterator[Frame]:
        """Sampled frames in order; --start seeks instead of decoding its way there."""
        prescreen_fps = OPENCV_PRESCREEN_FPS if self.sampling.prescreen and not self.sampling.fps else None
        schedule = Schedule(self.sampling, prescreen_fps)
        index, grabbed = self._seek(self.sampling.start)
        stopped_early = False
        while not schedule.full:
            if not grabbed:
                if not self.capture.grab():
                    break
                self.decoded += 1
            grabbed, time = False, self._time(index)
            if schedule.over(time):
                stopped_early = True
                break
            if schedule.wants(index, time):
                ok, image = self.capture.retrieve()
                if ok:
                    yield Frame(index, time, image, self.path)
                    schedule.took()
            index += 1
        self._check_truncation(index, stopped_early or schedule.full)

    def _time(self, index: int) -> float:
        """The grabbed frame's presentation time in seconds; from its index when the stream has none."""
        msec = self.capture.get(cv2.CAP_PROP_POS_MSEC)
        return msec / 1000.0 if msec > 0 or index == 0 else index / self.fps

    def _seek(self, start: float) -> tuple[int, bool]:
        """Seek to a keyframe before `start` (OpenCV then decodes forward to the frame): the index of the
        next frame, and whether it is already grabbed. On variable-frame-rate video the seek, made by frame
        number at the average rate, can land past `start`: then it decodes its way from the beginning."""
        target = start - SEEK_MARGIN
        if target <= 0:
            return 0, False
        if self.capture.set(cv2.CAP_PROP_POS_MSEC, target * 1000.0):
            index = int(self.capture.get(cv2.CAP_PROP_POS_FRAMES))
            grabbed = self.capture.grab()
            self.decoded += grabbed
            if grabbed and self._time(index) <= start:
                return index, True
        self.capture.release()
        self.decoded = 0
        self.capture = self._open(decoder_threads(self.pixels))
        return 0, False

    def close(self) -> None:
        capture = self.__dict__.pop("capture", None)
        if capture is not None:
            capture.release()
        super().close()
