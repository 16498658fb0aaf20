"""Parallel decoding: a video split at keyframes into chunks that decode two at a time, each on a
one-thread decoder, each chunk pre-screened on its own thread."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from ..cores import decoder_threads
from .frame import Frame
from .pyav import VideoInput
from .readahead import PREFETCH_BYTES
from .video import Video

# Chunks of whole GOPs about this long, and only where decoding outweighs the analysis: at least this many
# pixels a second of video decoded (the pre-screen skips the non-reference half of a B-frame stream).
# Below it the analysis thread waits for a one-thread decoder's first chunk (docs/benchmarks.md).
CHUNK_SECONDS = 4.0
CHUNK_MIN_PIXEL_RATE = 16e6


@dataclass
class _ChunkEnd:
    """What a chunk's reader counted, sent after its last item."""

    reached: int  # frames of the file it held, in its own numbering (VideoInput.reached)
    stopped_early: bool
    decoded: int
    damaged: int


class ChunkedVideo(Video):
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


def split_video(video: Video, kept_per_second: float) -> ChunkedVideo | None:
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
