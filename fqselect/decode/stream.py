"""Live streams: RTSP, HTTP (MPEG-TS, HLS, MJPEG), a capture device, or a file still being written
(`--follow`), read for as long as they last, and reopened with backoff when they drop or stall.

A reader thread decodes the stream as it comes and hands frames to the analysis through a small queue:
a frame the analysis has no room for is dropped (counted), and while frames are being dropped the decoder
decodes keyframes only, so the analysis never falls behind the stream. When the stream drops, a `Gap`
goes through the queue (everyone being tracked is then emitted), and the reader reopens it after 1, 2, 4 …
seconds (at most MAX_BACKOFF), saying so once per change of state.
"""

from __future__ import annotations

import datetime
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..urls import masked
from .frame import Frame

QUEUE_FRAMES = 16  # decoded frames waiting for the analysis; more are dropped
MAX_BACKOFF = 30.0
KEYFRAMES_ONLY_FOR = 2.0  # seconds the decoder skips all but keyframes after it had to drop a frame
FOLLOW_POLL = 0.1  # seconds between looks at a followed file that has not grown


@dataclass
class Gap:
    """The stream dropped here (or stalled): what was being tracked is final."""

    reason: str


@dataclass
class StreamStats:
    received: int = 0  # video packets read from the source
    decoded: int = 0  # frames out of the decoder (it skips non-reference frames, and all but keyframes when behind)
    dropped: int = 0  # decoded frames the analysis had no room for
    reconnects: int = 0


@dataclass
class StreamReader:
    """Frames of one live source, read on a thread (`start`) into a bounded queue (`frames`)."""

    source: str  # URL, device or path
    transport: str = "tcp"
    timeout: float = 10.0
    follow: bool = False
    log: Callable[[str], None] = print
    stats: StreamStats = field(default_factory=StreamStats)

    def __post_init__(self):
        self.name = masked(self.source)
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fqselect-stream", daemon=True)
        self._origin = time.monotonic()
        self._keyframes_until = 0.0
        self._file_origin: float | None = None  # a followed file's first timestamp on the reader's clock
        self.state = "starting"

    def now(self) -> float:
        """Seconds since the reader started: the clock its frames' `time` is on."""
        return time.monotonic() - self._origin

    def start(self) -> "StreamReader":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def frames(self, poll: float = 0.2) -> Iterator[Frame | Gap | None]:
        """Frames as they come, a `Gap` where the stream dropped, and None every `poll` seconds without a
        frame (the caller's chance to time things out); ends when the reader has stopped."""
        while True:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return
                yield None
                continue
            yield item

    # ----------------------------------------------------------------------------------- the thread
    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            reason = None
            try:
                delivered = self._read_once()
                reason = "stream ended" if not self.follow else "stopped growing"
                if delivered:
                    backoff = 1.0
            except Exception as error:  # any library's error about this stream: reopen it
                reason = self._reason(error)
            if self._stop.is_set():
                break
            if self.follow and reason == "stopped growing":
                self._say("stream", f"{self.name}: the file stopped growing for {self.timeout:g} s; done")
                break
            self._put(Gap(reason))
            self._say("lost", f"{self.name}: {reason}; reconnecting (tries back off to one every {MAX_BACKOFF:g} s)")
            self.stats.reconnects += 1
            if self._stop.wait(min(backoff, MAX_BACKOFF)):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _say(self, state: str, message: str) -> None:
        """One line on each change of state (not on every retry)."""
        if state != self.state:
            self.log(message)
        self.state = state

    def _reason(self, error: Exception) -> str:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "Immediate exit requested" in text:  # FFmpeg's words for its I/O timeout
            return f"stream stalled: nothing came for {self.timeout:g} s"
        text = re.sub(r"^\[Errno -?\d+\] |: '[^']*'$", "", text)  # FFmpeg's errno and the URL again
        return f"stream failed: {masked(text)}"

    def _put(self, item) -> None:
        """Into the queue; a frame without room is dropped, and the decoder skips to keyframes for a while
        (a followed file waits instead: what is written stays there)."""
        if isinstance(item, Frame) and not self.follow:
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.stats.dropped += 1
                self._keyframes_until = time.monotonic() + KEYFRAMES_ONLY_FOR
            return
        while not self._stop.is_set():  # a gap must get through (it ends what is tracked), a followed file's frames too
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _frame(self, image_or_picture, picture: bool) -> None:
        self.stats.decoded += 1
        frame = Frame(self.stats.decoded - 1, self._time_of(image_or_picture if picture else None),
                      None if picture else image_or_picture, self.name, picture=image_or_picture if picture else None)
        frame.captured_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        self._put(frame)

    def _time_of(self, picture) -> float:
        """A frame's time on the reader's clock: when it arrived; for a followed file, where it is in the
        file (its timestamp, counted from the first frame's arrival), since the analysis, not the camera,
        sets the pace there and nothing is dropped."""
        now = self.now()
        if not self.follow or picture is None or picture.pts is None or picture.time_base is None:
            return now
        seconds = float(picture.pts * picture.time_base)
        if self._file_origin is None:
            self._file_origin = now - seconds
        return self._file_origin + seconds

    def _read_once(self) -> bool:
        """Read the source until it ends or fails; whether it delivered any frame."""
        if re.fullmatch(r"/dev/video\d+", self.source):
            return self._read_device()
        import av

        options = {"rtsp_transport": self.transport} if self.source.lower().startswith(("rtsp://", "rtsps://")) else {}
        read_timeout: float | None = self.timeout
        if self.source.lower().split("?")[0].endswith(".m3u8"):
            # HLS waits between playlist reloads, which PyAV's read timeout would cut short: FFmpeg's own
            # I/O timeout watches the downloads instead.
            options["rw_timeout"], read_timeout = str(int(self.timeout * 1e6)), None
        target = FollowedFile(Path(self.source), self.timeout, self._stop) if self.follow else self.source
        container = av.open(target, options=options, timeout=(self.timeout, read_timeout))
        try:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            stream.codec_context.skip_frame = "NONREF"  # a live source is pre-screened, as a file is
            delivered = False
            self._say("reading", f"{self.name}: reading")
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                self.stats.received += 1
                keyframes_only = time.monotonic() < self._keyframes_until
                stream.codec_context.skip_frame = "NONKEY" if keyframes_only else "NONREF"
                try:
                    pictures = stream.codec_context.decode(packet)
                except av.FFmpegError:
                    continue  # a damaged packet: the next keyframe recovers
                for picture in pictures:
                    delivered = True
                    self._frame(picture, picture=True)
            return delivered
        finally:
            container.close()

    def _read_device(self) -> bool:
        import cv2

        capture = cv2.VideoCapture(self.source, cv2.CAP_V4L2)
        if not capture.isOpened():
            raise OSError("cannot open the capture device")
        delivered = False
        try:
            self._say("reading", f"{self.name}: reading")
            while not self._stop.is_set():
                ok, image = capture.read()
                if not ok:
                    break
                self.stats.received += 1
                delivered = True
                self._frame(image, picture=False)
        finally:
            capture.release()
        return delivered


class FollowedFile:
    """A file being written, read as `tail -f` reads it: at its end, wait for more; after `timeout`
    seconds without growth, end."""

    def __init__(self, path: Path, timeout: float, stop: threading.Event):
        self.handle = open(path, "rb")
        self.timeout, self.stop = timeout, stop

    def read(self, size: int = -1) -> bytes:
        waited = 0.0
        while True:
            data = self.handle.read(size if size and size > 0 else 1 << 16)
            if data or self.stop.is_set() or waited >= self.timeout:
                return data
            time.sleep(FOLLOW_POLL)
            waited += FOLLOW_POLL

    def close(self) -> None:
        self.handle.close()


def stream_folder_name(source: str) -> str:
    """A folder name for a stream's outputs: its host and path, without user, password or odd characters."""
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/@]*@)?", "", source).split("?")[0]  # no scheme, no user
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")
    return text[:120] or "stream"


