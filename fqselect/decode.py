"""Stage 1 — decoding: videos, single images and image folders become a stream of `Frame`s.

Inputs are read on a background thread (`ReadAhead`) into a small bounded queue, so decoding overlaps
with analysis and memory stays flat however long the input is. Videos are decoded by PyAV
(`VideoInput`): frames stay the decoder's YUV pictures until something asks for `Frame.image`, so no
colour conversion is paid for frames nobody looks at, and for the pre-screen the decoder skips
non-reference frames altogether. OpenCV's VideoCapture (`OpenCVVideoInput`) reads what PyAV cannot.
"""

from __future__ import annotations

import bisect
import math
import os
import queue
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .errors import InputError
from .runtime import decoder_threads

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".ppm", ".pgm", ".pbm", ".pnm"}
NO_FOLDER_IMAGES = "folder has no images (" + ", ".join(sorted(IMAGE_SUFFIXES)[:6]) + ", ...)"
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".mts", ".3gp", ".ogv"}
# Decoded video frames waiting for analysis. Enough for the decoder to keep going while the analysis
# thread spends ~30 ms on a window (PyAV hands on 10-25 frames a second; with 8 the decoder stalled:
# 720p H.264 1.01 -> 1.30 of a decode-only loop with 32, IP-camera 720p 0.78 -> 0.90; 64 no better).
PREFETCH_FRAMES = 32
PREFETCH_BYTES = 256 << 20  # and at most this much of them: 8K frames (50-100 MB each) wait 2 at a time
PREFETCH_IMAGES = 2  # photos can be 50 MB decoded each
TRUNCATION_TOLERANCE = 0.9  # fewer decoded frames than this share of the container's count = truncated
FALLBACK_FPS = 25.0
# Where OpenCV decodes (files PyAV cannot open), a frame must be converted to BGR to be judged at all:
# the pre-screen then looks at this many frames a second, and the others are only grabbed.
OPENCV_PRESCREEN_FPS = 6.0
# Parallel decoding (ChunkedVideo): chunks of whole GOPs about this long (2 and 8 measured no better;
# each chunk costs a reader and a keyframe search, ~1 ms each). Only where decoding outweighs the
# analysis: at least this many pixels a second of video decoded (the pre-screen skips the non-reference
# half of a B-frame stream). Paired in-process rounds on the 30-s benchmark clips: 1080p H.264 and HEVC
# (26 M/s) 1.36–1.47 → 1.51–1.59× and 1.57–1.68 → 1.88–2.04× a decode-only loop, IP-camera H.264 720p
# (23 M/s) 0.89–0.93 → 1.00–1.08×; below it, 720p with B-frames (12 M/s), H.264 level and HEVC 1.50–1.55
# → 1.38–1.45×: the analysis thread waits for a one-thread decoder's first chunk, then outlasts them all.
CHUNK_SECONDS = 4.0
CHUNK_MIN_PIXEL_RATE = 16e6
SEEK_MARGIN = 1.0  # --start seeks this many seconds early, then decodes forward by timestamp
FRAME_TIME_SLACK = 1e-4  # seconds; timestamps are rounded to the container's time base
# OpenCV refuses, from the header and before allocating, images above this many pixels; fqselect/__init__
# sets the cap (OPENCV_IO_MAX_IMAGE_PIXELS) before OpenCV loads: 16K×8K, four 8K frames' worth.
MAX_IMAGE_PIXELS = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 27))
# Pixel formats whose first plane is the 8-bit luminance itself, ready to judge without conversion.
LUMA_FIRST_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                      "yuv411p", "yuv410p", "nv12", "nv21", "nv16", "gray"}


class Frame:
    """One decoded frame. `image` (BGR uint8) is converted from the decoder's picture on first use, so a
    frame the pre-screen drops is never converted; `luma` is its luminance, for judging sharpness."""

    __slots__ = ("index", "time", "source", "_image", "_picture", "_rotate")

    def __init__(self, index: int, time: float, image: np.ndarray | None, source: str,
                 picture=None, rotate: int | None = None):
        self.index = index  # 0-based frame index in the video; the image's position in a folder; 0 for one image
        self.time = time  # seconds from the start of the video (presentation timestamp); 0 for images
        self.source = source  # the file this frame came from (the image's own path inside a folder)
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


@dataclass(frozen=True)
class Sampling:
    """Which video frames are analysed: from `start` to `end` (seconds, by timestamp), every `every`-th
    frame and at most `fps` a second (both apply), at most `max_frames` in all.
    `prescreen`: the frames go to the pre-screen, which needs only their luminance, and the decoder may
    leave out non-reference frames (B-frames: x264 makes about half its frames so; each lies a frame or
    two from reference frames, and the best face among the rest is within 0.3% of `--exhaustive`'s on
    every benchmark clip). `keyframes`: only keyframes are decoded (lossy: on a camera's one-second GOP,
    one frame a second), and of those at most one every `keyframe_spacing` seconds (an I-frame costs
    ~9 ms to decode at 720p: with a long --window, decoding them all is most of the work)."""

    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    start: float = 0.0
    end: float | None = None
    prescreen: bool = False
    keyframes: bool = False
    keyframe_spacing: float = 0.0

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
    """A folder's images (by suffix), sorted; a folder input with none is refused with NO_FOLDER_IMAGES."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class _Input:
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


class _Video(_Input):
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


class VideoInput(_Video):
    """Frames of a video file, sampled, decoded by PyAV (FFmpeg's own bindings): frames come out as the
    decoder's YUV pictures and only those that go on to the detector are converted to BGR; with
    `sampling.prescreen` non-reference frames are not decoded at all, with `sampling.keyframes` only
    keyframes are. `time` is each frame's presentation timestamp, `index` its place in display order."""

    bytes_per_pixel = 1.5  # frames wait as the decoder's 4:2:0 pictures

    def __init__(self, path: str, sampling: Sampling = Sampling(), threads: int | None = None,
                 from_keyframe: int | None = None):
        import av

        self.path, self.sampling, self.warnings = path, sampling, []
        # A chunk of the file (`ChunkedVideo`): it starts at the keyframe with this timestamp, numbers its
        # frames from 0 there, and ends before the keyframe `until_keyframe` (its next chunk's first).
        self.from_keyframe, self.until_keyframe = from_keyframe, None
        try:
            self.container = av.open(self._decodable_path(), metadata_errors="ignore")
        except (av.FFmpegError, OSError, ValueError):
            raise self._refuse("cannot open as a video (corrupt, truncated or not a video)") from None
        if not self.container.streams.video:
            raise self._refuse("has no video stream")
        self.stream = self.container.streams.video[0]
        codec = self.stream.codec_context
        if not codec.width or not self.stream.time_base:
            raise self._refuse("cannot open as a video (no picture size or time base)")
        if oversized := self._oversized(codec.width, codec.height):
            raise self._refuse(oversized)
        self.pixels = codec.width * codec.height
        # Two threads on two cores at every size: beside the analysis, PyAV's decoder gains from the second
        # even at 480×480 (talking_d6: 0.35 → 0.38 of a decode-only loop; 720p H.264 0.92 → 0.99).
        codec.thread_count, codec.thread_type = threads or decoder_threads(threading_from=0), "AUTO"
        if sampling.keyframes:
            codec.skip_frame = "NONKEY"
        elif sampling.prescreen:
            codec.skip_frame = "NONREF"
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate and math.isfinite(float(rate)) and rate > 0 else FALLBACK_FPS
        self.frame_count = self.stream.frames or 0
        self.decoded = 0  # pictures that came out of the decoder
        self.damaged = 0  # packets the decoder refused
        self._origin = self.stream.start_time or 0  # the first frame's timestamp, in time-base units
        self._counted, self._waiting = 0, []  # display order: frames shown so far, timestamps demuxed but not yet shown
        self._last_keyframe: float | None = None  # time of the last keyframe sent to the decoder (--keyframes)
        self.stopped_early = False

    def frames(self) -> Iterator[Frame]:
        """Sampled frames in display order (run it on a `ReadAhead` thread to overlap decoding with
        analysis); --start seeks to the keyframe before it instead of decoding its way there."""
        schedule = Schedule(self.sampling)
        if self.from_keyframe is None:
            self._seek(self.sampling.start)
        else:
            self._seek_keyframe(self.from_keyframe)
        for picture in self._pictures():
            index, time = self._place(picture)
            if schedule.over(time):
                self.stopped_early = True
                break
            if schedule.wants(index, time):
                rotate = ROTATIONS.get(round(-(picture.rotation or 0)) % 360)  # cv2.ROTATE_90_CLOCKWISE is 0
                yield Frame(index, time, None, self.path, picture=picture, rotate=rotate)
                schedule.took()
                if schedule.full:
                    self.stopped_early = True
                    break
        if self.from_keyframe is None and self.until_keyframe is None:  # a whole video; ChunkedVideo checks its chunks
            self._check_damage(self.damaged, self.reached if self.decoded else 0, self.stopped_early)

    @property
    def reached(self) -> int:
        """Frames the container held up to where reading stopped, in this reader's numbering: those shown,
        and those skipped after them (the display index the next frame would have; counted from the
        packets' timestamps, so a chunk whose pictures all failed still moves the next one on)."""
        return (self._counted or 0) + len(self._waiting)

    def end_time(self) -> float:
        """Where reading ends, in seconds: --end, or the container's length (0 when it does not say)."""
        duration = self.container.duration / 1e6 if self.container.duration else 0.0
        return min(duration, self.sampling.end or math.inf)

    def keyframes_apart(self, seconds: float) -> list[int]:
        """Timestamps of keyframes after --start, about `seconds` apart, up to --end: found by seeking a
        second reader (one seek a chunk, no pass over the file). Empty where the container cannot seek to
        keyframes by timestamp (MPEG-TS, for one, seeks by byte estimates) or its length is unknown."""
        import av

        base, start = self.stream.time_base, self.sampling.start
        found: list[int] = []
        places = np.arange(start + seconds, self.end_time() - seconds / 2, seconds)
        if not len(places):  # a short clip: one chunk, no second reader opened
            return []
        try:
            with av.open(self._decodable_path(), metadata_errors="ignore") as probe:
                stream = probe.streams.video[0]
                for at in places:
                    probe.seek(self._origin + int(at / base), stream=stream, backward=True)
                    packet = next(probe.demux(stream), None)
                    if packet is None or packet.pts is None or not packet.is_keyframe:
                        return []
                    if self._seconds(packet.pts) > start + FRAME_TIME_SLACK and packet.pts > (found or [-math.inf])[-1]:
                        found.append(packet.pts)
        except (av.FFmpegError, OSError, IndexError):
            return []
        return found

    def _pictures(self) -> Iterator:
        """The decoder's pictures; a damaged packet is skipped (counted), a damaged container ends them. A
        chunk's pictures start at its first keyframe and end with what the decoder holds when the next
        chunk's keyframe comes (open-GOP leading pictures of that keyframe are then nobody's: HEVC drops
        them after a seek too)."""
        import av

        packets = self.container.demux(self.stream)
        started = self.from_keyframe is None
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError:  # the container itself is damaged here: what came before stands
                return
            if not started:  # a seek may land a keyframe early: that stretch is the chunk before's
                started = packet.is_keyframe and packet.pts is not None and packet.pts >= self.from_keyframe
                if not started:
                    continue
            last = (self.until_keyframe is not None and packet.is_keyframe and packet.pts is not None
                    and packet.pts >= self.until_keyframe)
            if last:
                packet = None  # flushes the decoder
            elif packet.pts is not None:
                bisect.insort(self._waiting, packet.pts)
            if packet is not None and self._too_close(packet):
                continue
            try:
                pictures = self.stream.codec_context.decode(packet)
            except av.FFmpegError:
                self.damaged += 1
                continue
            for picture in pictures:
                self.decoded += 1
                yield picture
            if last:
                return

    def _too_close(self, packet) -> bool:
        """With --keyframes, a keyframe less than `keyframe_spacing` seconds after the last one decoded
        stays undecoded (its timestamp still counts in display order)."""
        if not (self.sampling.keyframes and packet.is_keyframe and packet.pts is not None):
            return False
        time = self._seconds(packet.pts)
        if self._last_keyframe is not None and 0 <= time - self._last_keyframe < self.sampling.keyframe_spacing:
            return True
        self._last_keyframe = time
        return False

    def _seconds(self, pts: int) -> float:
        """A timestamp (time-base units) as seconds from the stream's first frame."""
        return float((pts - self._origin) * self.stream.time_base)

    def _place(self, picture) -> tuple[int, float]:
        """A picture's index in display order and its time in seconds. The index counts the timestamps of
        every packet demuxed before it, skipped frames included (the decoder shows pictures in timestamp
        order, and it has been given every packet shown before one it shows); after a seek, where the
        count is unknown, it starts from the time at the average frame rate."""
        if picture.pts is None:  # a stream without timestamps: frames are evenly spaced
            self._counted = (self._counted or 0) + 1
            return self._counted - 1, (self._counted - 1) / self.fps
        time = self._seconds(picture.pts)
        before = bisect.bisect_left(self._waiting, picture.pts)
        if self._counted is None:  # after a seek
            self._counted = round(time * self.fps) - before
        index = self._counted + before
        shown = before + (before < len(self._waiting) and self._waiting[before] == picture.pts)
        del self._waiting[:shown]
        self._counted = index + 1
        return index, time

    def _seek(self, start: float) -> None:
        """Seek to the keyframe at or before SEEK_MARGIN seconds before `start` (by timestamp, so variable
        frame rates land right too); where the container cannot seek, decode from the beginning."""
        import av

        target = start - SEEK_MARGIN
        if target <= 0:
            return
        try:
            self.container.seek(self._origin + int(target / self.stream.time_base), stream=self.stream, backward=True)
        except av.FFmpegError:
            return
        self.stream.codec_context.flush_buffers()
        self._counted, self._waiting = None, []

    def _seek_keyframe(self, pts: int) -> None:
        """Seek to the keyframe with this timestamp (a chunk's start); frames are numbered from 0 there."""
        self.container.seek(pts, stream=self.stream, backward=True)
        self.stream.codec_context.flush_buffers()
        self._counted, self._waiting = 0, []

    def close(self) -> None:
        container = self.__dict__.pop("container", None)
        if container is not None:
            container.close()
        super().close()


# PyAV's `rotation` is the display matrix's counter-clockwise angle; the frame is turned back upright.
ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class OpenCVVideoInput(_Video):
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
            raise InputError(path, NO_FOLDER_IMAGES)
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


InputSource = VideoInput | OpenCVVideoInput | ImageInput | FolderInput


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


@dataclass
class _ChunkEnd:
    """What a chunk's reader counted, sent after its last item."""

    reached: int  # frames of the file it held, in its own numbering (VideoInput.reached)
    stopped_early: bool
    decoded: int
    damaged: int


class ChunkedVideo(_Video):
    """A video decoded as keyframe-aligned chunks, `workers` at a time, each by a one-thread decoder.

    FFmpeg's frame threads overlap consecutive frames, and with the non-reference frames left out (the
    pre-screen's sampling) each frame refers to the one before: at 1080p two of them kept 1.5 cores busy
    decoding alone, less beside the analysis thread. Chunks that begin at keyframes depend on nothing
    before them, so two decode fully in parallel. Each chunk's frames are reduced on its own thread (the
    pre-screen keeps a window's few sharpest), so a chunk decoded ahead holds only those; at most
    `workers + 1` chunks are in flight, each with a reader of its own, opened when its turn comes."""

    def __init__(self, first: VideoInput, starts: list[int], workers: int):
        self.first, self.starts, self.workers = first, starts, workers
        self.path, self.sampling, self.fps, self.frame_count = first.path, first.sampling, first.fps, first.frame_count
        self.pixels, self.warnings = first.pixels, []
        self.decoded = self.damaged = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def reduced(self, reduce: Callable[[Iterator[Frame]], Iterator], frames_of: Callable[[object], list[Frame]]) -> Iterator:
        """`reduce(chunk.frames())`'s items for each chunk in turn, computed on the worker threads (they
        start now, so decoding goes on while the caller loads its models); their frames (`frames_of(item)`)
        renumbered in display order over the whole video."""
        count = len(self.starts) + 1
        results = [queue.SimpleQueue() for _ in range(count)]
        room = threading.Semaphore(self.workers + 1)  # chunks claimed and not yet consumed
        claims, claiming = iter(range(count)), threading.Lock()

        def work() -> None:
            while not self._stop.is_set():
                if not room.acquire(timeout=0.05):
                    continue
                with claiming:
                    i = next(claims, None)
                if i is None:
                    return
                try:
                    self._decode_chunk(i, reduce, results[i])
                except BaseException as error:  # raised again in the consumer's thread
                    results[i].put(error)

        self._threads = [threading.Thread(target=work, name=f"fqselect-chunks-{n}", daemon=True) for n in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self._in_order(results, room, frames_of)

    def _decode_chunk(self, i: int, reduce: Callable[[Iterator[Frame]], Iterator], result: queue.SimpleQueue) -> None:
        """Chunk i's items into `result`, then its `_ChunkEnd`."""
        chunk = self.first if i == 0 else VideoInput(self.path, self.sampling, threads=1, from_keyframe=self.starts[i - 1])
        chunk.until_keyframe = self.starts[i] if i < len(self.starts) else None
        try:
            for item in reduce(chunk.frames()):
                if self._stop.is_set():
                    return
                result.put(item)
            result.put(_ChunkEnd(chunk.reached, chunk.stopped_early, chunk.decoded, chunk.damaged))
        finally:
            if i:  # its frames outlive it: each holds its own reference to its picture's buffers
                chunk.close()

    def _in_order(self, results: list[queue.SimpleQueue], room: threading.Semaphore,
                  frames_of: Callable[[object], list[Frame]]) -> Iterator:
        offset, end = 0, None
        for result in results:
            while not isinstance(item := result.get(), _ChunkEnd):
                if isinstance(item, BaseException):
                    raise item
                for frame in frames_of(item):
                    frame.index += offset
                yield item
            end = item
            self.decoded, self.damaged = self.decoded + end.decoded, self.damaged + end.damaged
            offset += end.reached
            room.release()
        self._check_damage(self.damaged, offset if self.decoded else 0, end.stopped_early)

    def close(self) -> None:
        """Stop the workers (they are gone when this returns), then the first chunk's decoder."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self.first.close()
        super().close()


def split_video(video: InputSource, kept_per_second: float) -> ChunkedVideo | None:
    """`video` as chunks of about CHUNK_SECONDS for `ChunkedVideo`, when it is a PyAV-read video sampled
    for the pre-screen (every frame, no --max-frames), there are cores for two decoders, decoding it is
    heavy enough (CHUNK_MIN_PIXEL_RATE), it has two chunks or more, and the frames its chunks in flight
    keep (`kept_per_second`, the pre-screen's) fit in PREFETCH_BYTES. Else None: decode it whole, with
    the decoder's own threads."""
    if not isinstance(video, VideoInput):
        return None
    workers, sampling = decoder_threads(threading_from=0), video.sampling
    if workers < 2 or not sampling.prescreen or sampling.keyframes or sampling.max_frames or sampling.stride(video.fps) > 1:
        return None
    decoded_share = 0.5 if video.stream.codec_context.has_b_frames else 1.0
    if video.pixels * video.fps * decoded_share < CHUNK_MIN_PIXEL_RATE:
        return None
    starts = video.keyframes_apart(CHUNK_SECONDS)
    if not starts:
        return None
    bounds = [sampling.start, *(video._seconds(pts) for pts in starts), video.end_time()]
    longest = max(b - a for a, b in zip(bounds, bounds[1:]))
    if (workers + 1) * longest * kept_per_second * video.bytes_per_pixel * video.pixels > PREFETCH_BYTES:
        return None
    video.stream.codec_context.thread_count = 1
    return ChunkedVideo(video, starts, workers)


def read_ahead(source: InputSource) -> ReadAhead:
    """`source`'s frames read ahead: PREFETCH_FRAMES video frames (fewer when they are large: at most
    PREFETCH_BYTES, never under 2), PREFETCH_IMAGES images."""
    if source.kind != "video":
        return ReadAhead(source.frames(), PREFETCH_IMAGES)
    frame_bytes = max(1, int(source.bytes_per_pixel * source.pixels))
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
        return open_video(path, sampling)
    try:
        return ImageInput(path)
    except InputError:
        pass
    try:
        return open_video(path, sampling)
    except InputError:
        raise InputError(path, "not an image or video OpenCV can read") from None


def open_video(path: str, sampling: Sampling = Sampling()) -> VideoInput | OpenCVVideoInput:
    """PyAV's reader, else OpenCV's (FQSELECT_VIDEO_READER=opencv asks for it): a file one cannot open
    is tried with the other; PyAV's error stands when neither can."""
    if os.environ.get("FQSELECT_VIDEO_READER") == "opencv":
        return OpenCVVideoInput(path, sampling)
    try:
        return VideoInput(path, sampling)
    except ImportError:  # PyAV is a dependency; an install without it still reads videos
        return OpenCVVideoInput(path, sampling)
    except InputError as error:
        if "larger than" in error.reason:
            raise
        try:
            return OpenCVVideoInput(path, sampling)
        except InputError:
            raise error from None
