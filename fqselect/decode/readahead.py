"""Read-ahead: an input's frames decoded on a background thread into a small bounded queue, so decoding
overlaps analysis and memory stays flat however long the input is."""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from .frame import Source
from .images import PREFETCH_IMAGES, read_image

# Decoded video frames waiting for analysis: enough for the decoder to keep going while the analysis
# thread works on a window (benchmarks/results/video.md), and at most PREFETCH_BYTES of them.
PREFETCH_FRAMES = 32
PREFETCH_BYTES = 256 << 20
IMAGES_AHEAD = 64  # `images_ahead`: images decoded ahead of the consumer
IMAGE_DECODERS = 2  # ... and decoded at once


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


def read_ahead(source: Source) -> ReadAhead:
    """`source`'s frames read ahead: PREFETCH_FRAMES video frames (fewer when they are large: at most
    PREFETCH_BYTES, never under 2), PREFETCH_IMAGES images."""
    if source.kind != "video":
        return ReadAhead(source.frames(), PREFETCH_IMAGES)
    frame_bytes = max(1, int(source.bytes_per_pixel * source.pixels))
    return ReadAhead(source.frames(), max(2, min(PREFETCH_FRAMES, PREFETCH_BYTES // frame_bytes)))


def images_ahead(paths: Iterable[str]) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """(path, image, None) or (path, None, reason) for each path in order, decoded IMAGE_DECODERS at a time
    on a thread pool (OpenCV releases the GIL while decoding), at most IMAGES_AHEAD images and
    PREFETCH_BYTES of them ahead of the consumer: a few huge images must not take gigabytes."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait  # only `fqselect score` needs them

    def load(path: str):
        try:
            return path, read_image(path), None
        except InputError as error:
            return path, None, error.reason

    def held(window: list) -> int:  # bytes of decoded images waiting to be used
        return sum(f.result()[1].nbytes for f in window if f.done() and f.result()[1] is not None)

    with ThreadPoolExecutor(max_workers=IMAGE_DECODERS) as pool:
        window: list = []
        for path in paths:
            while window:  # room for one more: a decoder free, and few enough images held
                busy = [f for f in window if not f.done()]
                if len(busy) >= IMAGE_DECODERS:
                    wait(busy, return_when=FIRST_COMPLETED)
                elif len(window) >= IMAGES_AHEAD or held(window) >= PREFETCH_BYTES:
                    yield window.pop(0).result()
                else:
                    break
            window.append(pool.submit(load, path))
        for future in window:
            yield future.result()
