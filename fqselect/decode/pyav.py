"""The default video reader: PyAV (FFmpeg's own bindings). Frames stay the decoder's YUV pictures until
something asks for their pixels, and for the pre-screen the decoder skips non-reference frames."""

from __future__ import annotations

import bisect
import math
from typing import Iterator

import cv2
import numpy as np

from ..cores import decoder_threads
from ..options import Sampling
from .frame import FRAME_TIME_SLACK, Frame, Schedule
from .video import FALLBACK_FPS, SEEK_MARGIN, Video


class VideoInput(Video):
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
        # even on small frames (docs/benchmarks.md).
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
        self._decode_all_from: int | None = None  # the timestamp from which skipped frames are decoded again
        self.stopped_early = False

    def frames(self) -> Iterator[Frame]:
        """Sampled frames in display order (run it on a `ReadAhead` thread to overlap decoding with
        analysis); --start seeks to the keyframe before it instead of decoding its way there."""
        schedule = Schedule(self.sampling)
        if self.from_keyframe is None:
            self._seek(self.sampling.start)
            self._skip_before(self.sampling.start)
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
            if self._decode_all_from is not None and packet is not None \
                    and (packet.pts is None or packet.pts >= self._decode_all_from):  # in decoding order: every later shown frame too
                self.stream.codec_context.skip_frame, self._decode_all_from = "DEFAULT", None
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
        """Seek to the keyframe at or before `start` (by timestamp, so variable frame rates land right
        too); where that lands after it (a container seeking by byte estimates, a keyframe shown after its
        timestamp), to the keyframe SEEK_MARGIN seconds earlier; where the container cannot seek, decode
        from the beginning. Aiming at `start` itself spares a search near a keyframe the decoding of the
        whole group of pictures before it."""
        import av

        if start <= 0:
            return
        try:
            for margin in (0.0, SEEK_MARGIN):
                target = start - margin
                if target <= 0:  # the seek to `start` landed after it, which is within a margin of the beginning
                    self._rewind()
                    return
                self.container.seek(self._origin + int(target / self.stream.time_base), stream=self.stream, backward=True)
                if margin == SEEK_MARGIN or self._landed_by(start):
                    break
        except av.FFmpegError:
            self._rewind()
            return
        self.stream.codec_context.flush_buffers()
        self._counted, self._waiting = None, []

    def _rewind(self) -> None:
        """Back to the first frame, counted from 0 (where a seek failed, after one that moved)."""
        import av

        try:
            self._seek_keyframe(self._origin)
        except av.FFmpegError:
            return

    def _skip_before(self, start: float) -> None:
        """Where every frame is wanted from `start` on, the non-reference frames before it (between the
        keyframe a seek landed on and `start`) are not decoded: nothing refers to them."""
        codec = self.stream.codec_context
        if start > 0 and codec.skip_frame == "DEFAULT":
            codec.skip_frame = "NONREF"
            self._decode_all_from = self._origin + int(start / self.stream.time_base)

    def _landed_by(self, start: float) -> bool:
        """Whether the first packet after a seek is shown by `start` (the packet is then read again: the
        same seek is repeated)."""
        import av

        try:
            packet = next(self.container.demux(self.stream))
        except (StopIteration, av.FFmpegError):
            return False
        if packet.pts is None or self._seconds(packet.pts) > start:
            return False
        self.container.seek(packet.pts, stream=self.stream, backward=True)
        return True

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
