"""Stage 1 — decoding: videos, single images and image folders become a stream of `Frame`s.

Inputs are read on a background thread (`ReadAhead`) into a small bounded queue, so decoding overlaps
with analysis and memory stays flat however long the input is. Frames that sampling skips are only
`grab()`bed, never `retrieve()`d: no colour conversion is paid for frames nobody looks at.
"""

from __future__ import annotations

import math
import os
import queue
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .errors import InputError
from .runtime import decoder_threads

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".ppm", ".pgm", ".pbm", ".pnm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts", ".3gp", ".ogv"}
PREFETCH_FRAMES = 8  # decoded video frames waiting for analysis; bounds memory,
PREFETCH_BYTES = 256 << 20  # as does this: 8K frames (100 MB each) wait 2 at a time, not 8
PREFETCH_IMAGES = 2  # photos can be 50 MB decoded each
TRUNCATION_TOLERANCE = 0.9  # fewer decoded frames than this share of the container's count = truncated
FALLBACK_FPS = 25.0
SEEK_MARGIN = 1.0  # --start seeks this many seconds early, then decodes forward by timestamp
FRAME_TIME_SLACK = 1e-4  # seconds; timestamps are rounded to the container's time base
# OpenCV refuses, from the header and before allocating, images above this many pixels; fqselect/__init__
# sets the cap (OPENCV_IO_MAX_IMAGE_PIXELS) before OpenCV loads: 16K×8K, four 8K frames' worth.
MAX_IMAGE_PIXELS = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 27))


@dataclass
class Frame:
    index: int  # 0-based frame index in the video; the image's position in a folder; 0 for one image
    time: float  # seconds from the start of the video; 0 for images
    image: np.ndarray  # BGR uint8
    source: str  # the file this frame came from (the image's own path inside a folder)


@dataclass(frozen=True)
class Sampling:
    """Which video frames are analysed: from `start` to `end` (seconds, by timestamp), every `every`-th
    frame and at most `fps` a second (both apply), at most `max_frames` in all."""

    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    start: float = 0.0
    end: float | None = None

    def stride(self, native_fps: float) -> int:
        stride = max(1, self.every)
        if self.fps:
            stride = max(stride, round(native_fps / self.fps))
        return stride


def read_image(path: str | Path) -> np.ndarray:
    """A BGR image, upright by its EXIF orientation; InputError when it is not a readable image (a FIFO or
    a device is refused before it is opened: reading one could block forever)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(str(path), "not a regular file")
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise InputError(str(path), f"cannot read ({error.strerror or error})") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as error:  # OpenCV checks the header's size against its pixel cap before decoding
        too_big = "CV_IO_MAX_IMAGE_PIXELS" in str(error)
        raise InputError(str(path), f"image larger than {MAX_IMAGE_PIXELS:,} pixels (header checked, not decoded)" if too_big
                         else "not an image OpenCV can decode (corrupt or unsupported)") from None
    if image is None:
        raise InputError(str(path), "not an image OpenCV can decode (corrupt or unsupported)")
    return image


def folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class _Input:
    """What every input kind shares: `with open_input(path) as source:` releases what it holds."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_) -> None:
        self.close()


class VideoInput(_Input):
    """Frames of a video file, sampled."""

    kind = "video"

    def __init__(self, path: str, sampling: Sampling = Sampling()):
        self.path = path
        self.sampling = sampling
        self._link: str | None = None
        threads = decoder_threads()
        self.capture = self._open(threads)
        if not self.capture.isOpened():
            raise InputError(path, "cannot open as a video (corrupt, truncated or not a video)")
        self.pixels = int(self.capture.get(cv2.CAP_PROP_FRAME_WIDTH) * self.capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if decoder_threads(self.pixels) != threads:  # FFmpeg's threads are set when a file is opened
            self.capture.release()
            self.capture = self._open(decoder_threads(self.pixels))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and math.isfinite(fps) and fps > 0 else FALLBACK_FPS
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.decoded = 0  # frames the decoder got through (grabbed); a seek skips the ones before --start
        self.warnings: list[str] = []

    def _open(self, threads: int) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self._decodable_path(), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # phone videos come out upright
        return capture

    def _decodable_path(self) -> str:
        """The path OpenCV is given. A name that is not valid UTF-8 (undecodable bytes, which Python keeps
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

    def planned_frames(self) -> int | None:
        """How many frames will be analysed, for progress bars (None when unknown; from the average frame
        rate, so approximate for variable-frame-rate video)."""
        if not self.frame_count:
            return None
        end = self.frame_count / self.fps if self.sampling.end is None else min(self.sampling.end, self.frame_count / self.fps)
        count = max(0, math.ceil((end - self.sampling.start) * self.fps / self.sampling.stride(self.fps)))
        return min(count, self.sampling.max_frames) if self.sampling.max_frames else count

    def frames(self) -> Iterator[Frame]:
        """Sampled frames in order (run it on a `ReadAhead` thread to overlap decoding with analysis).
        `time` is the frame's presentation timestamp, so --start, --end, --fps and --min-gap hold on
        variable-frame-rate video too; --start seeks instead of decoding its way there."""
        start, end, limit = self.sampling.start, self.sampling.end, self.sampling.max_frames
        every, period = max(1, self.sampling.every), 1.0 / self.sampling.fps if self.sampling.fps else 0.0
        index, grabbed = self._seek(start)
        first, due, emitted, reached_end = None, start, 0, False  # due: when the next --fps sample is due
        while limit is None or emitted < limit:
            if not grabbed:
                if not self.capture.grab():
                    break
                self.decoded += 1
            grabbed, time = False, self._time(index)
            if end is not None and time >= end:
                reached_end = True
                break
            if time >= start:
                first = index if first is None else first
                if (index - first) % every == 0 and time >= due - FRAME_TIME_SLACK:
                    due = due + period if time - due < period else time + period  # after a gap: restart
                    ok, image = self.capture.retrieve()
                    if ok:
                        yield Frame(index, time, image, self.path)
                        emitted += 1
            index += 1
        self._check_truncation(index, stopped_early=reached_end or (limit is not None and emitted >= limit))

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
        self.capture.release()
        if self._link is not None:
            import shutil

            shutil.rmtree(os.path.dirname(self._link), ignore_errors=True)
            self._link = None

    def _check_truncation(self, reached: int, stopped_early: bool) -> None:
        expected = self.frame_count
        if reached == 0:
            raise InputError(self.path, "no frame could be decoded (corrupt or truncated video)")
        if not stopped_early and expected and reached < TRUNCATION_TOLERANCE * expected:
            self.warnings.append(f"truncated video: decoded {reached} of {expected} frames")


class ImageInput(_Input):
    """One still image: one frame."""

    kind = "image"

    def __init__(self, path: str):
        self.path = path
        self.image = read_image(path)
        self.warnings: list[str] = []

    def planned_frames(self) -> int:
        return 1

    def frames(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self.image, self.path)


class FolderInput(_Input):
    """A folder of images taken as one template: every image is a candidate frame."""

    kind = "folder"

    def __init__(self, path: str):
        self.path = path
        self.images = folder_images(Path(path))
        if not self.images:
            raise InputError(path, "folder has no images (" + ", ".join(sorted(IMAGE_SUFFIXES)[:6]) + ", ...)")
        self.warnings: list[str] = []

    def planned_frames(self) -> int:
        return len(self.images)

    def frames(self) -> Iterator[Frame]:
        for index, image_path in enumerate(self.images):
            try:
                image = read_image(image_path)
            except InputError as error:
                self.warnings.append(error.reason + f": {image_path.name}")
                continue
            yield Frame(index, 0.0, image, str(image_path))


InputSource = VideoInput | ImageInput | FolderInput


class ReadAhead:
    """Iterates `items` on a background thread, up to `size` items ahead of the consumer: decoding overlaps
    analysis (cv2 releases the GIL while it decodes) and memory stays bounded by `size` however long the
    input is. It starts on creation, so the first items are ready by the time the caller has loaded its
    models. Leave it (`close()` or the `with` block) before closing the input it reads from."""

    _END = object()

    def __init__(self, items: Iterator, size: int):
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, size))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="fqselect-read-ahead", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._items:
                if self._stop.is_set():
                    break
                self._queue.put(item)
            self._queue.put(self._END)
        except BaseException as error:  # raised again in the consumer's thread
            self._queue.put(error)
        finally:
            getattr(self._items, "close", lambda: None)()

    def __iter__(self) -> Iterator:
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread; it is gone when this returns."""
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(0.05)

    def __enter__(self) -> "ReadAhead":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def read_ahead(source: InputSource) -> ReadAhead:
    """`source`'s frames read ahead: PREFETCH_FRAMES video frames (fewer when they are large: at most
    PREFETCH_BYTES, never under 2), PREFETCH_IMAGES images."""
    if source.kind != "video":
        return ReadAhead(source.frames(), PREFETCH_IMAGES)
    frame_bytes = max(1, 3 * source.pixels)
    return ReadAhead(source.frames(), max(2, min(PREFETCH_FRAMES, PREFETCH_BYTES // frame_bytes)))


def open_input(path: str, sampling: Sampling = Sampling()) -> InputSource:
    """The right reader for a path: a folder, an image, or a video (by suffix, else by trying)."""
    file = Path(path)
    if not file.exists():
        raise InputError(path, "no such file or folder")
    if file.is_dir():
        return FolderInput(path)
    if not file.is_file():  # a FIFO, a socket, a device: reading could block forever or never end
        raise InputError(path, "not a regular file or folder")
    suffix = file.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageInput(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoInput(path, sampling)
    try:
        return ImageInput(path)
    except InputError:
        pass
    try:
        return VideoInput(path, sampling)
    except InputError:
        raise InputError(path, "not an image or video OpenCV can read") from None
