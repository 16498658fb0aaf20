"""How the machine's cores are shared: worker processes, onnxruntime threads, FFmpeg threads.

On small machines the video decoder needs a core of its own beside the analysis, so every thread count
comes from here (FQSELECT_THREADS and FQSELECT_DECODER_THREADS override them)."""

from __future__ import annotations

import os
from typing import Callable, Sequence, TypeVar

from .errors import UsageError

Part = TypeVar("Part")

# From this frame size up, FFmpeg gets a second thread on two cores: decoding is then the longest stage
# and frame threading fills the gaps the analysis leaves on the other core; on smaller frames its own
# overhead costs more than that (docs/benchmarks.md).
FRAME_THREADING_MIN_PIXELS = 1_500_000


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one), at least one."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))


def default_workers() -> int:
    """One worker process a core (`--workers`): even on two cores two workers beat one, as the decoder of
    one input leaves gaps the other fills (docs/benchmarks.md)."""
    return usable_cores()


def _env_count(name: str) -> int | None:
    """A positive whole number from the environment variable `name`, None when unset."""
    value = os.environ.get(name)
    if not value:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise UsageError(f"{name}={value!r}: expected a whole number of threads, 1 or more")
    return int(value)


def default_threads() -> int:
    """Threads per onnxruntime session: FQSELECT_THREADS, else all usable cores but one (the decoder's)."""
    return _env_count("FQSELECT_THREADS") or max(1, usable_cores() - 1)


def ranking_threads() -> int:
    """Threads a batch of the set ranking (the recogniser's, the eye model's) is split over: FQSELECT_THREADS,
    else every usable core. Their sessions run one thread each (`across_cores`): a batch at the end of an
    input, once decoding is over, gets every core; a face measured ahead stays on its idle thread
    (docs/sets.md)."""
    return _env_count("FQSELECT_THREADS") or usable_cores()


def idle_priority() -> bool:
    """Put the calling thread on idle cycles only (Linux's SCHED_IDLE: it runs when no other thread wants
    a core, and threads it starts inherit that); False where the OS cannot."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread, on Linux
    except (AttributeError, OSError):
        return False
    return True


def across_cores(run: Callable[[Sequence], Part], batch: Sequence) -> list[Part]:
    """`run` of each part of `batch`, split in one part a ranking thread (`ranking_threads`), the first on
    the caller's thread and the others on threads started from it. The ranking's sessions run one thread
    each, so that a call stays on the thread that makes it, at that thread's priority (choose/ahead.py
    runs them on idle cores only); a batch at the end still gets every core this way."""
    parts = min(ranking_threads(), len(batch))
    if parts <= 1:
        return [run(batch)]
    from concurrent.futures import ThreadPoolExecutor  # started here: threads inherit the caller's priority

    bounds = [len(batch) * i // parts for i in range(parts + 1)]
    pieces = [batch[a:b] for a, b in zip(bounds, bounds[1:])]
    with ThreadPoolExecutor(parts - 1, thread_name_prefix="fqselect-rank") as threads:
        others = threads.map(run, pieces[1:])
        return [run(pieces[0]), *others]


def decoder_threads(frame_pixels: int = 0, threading_from: int = FRAME_THREADING_MIN_PIXELS) -> int:
    """FFmpeg threads for decoding frames of this many pixels: FQSELECT_DECODER_THREADS, else the cores
    onnxruntime sessions leave free, and two wherever there are two cores for frames of `threading_from`
    pixels or more."""
    cores = usable_cores()  # the process's CPU affinity (a container's or taskset's cores), not the machine's
    threads = max(1, cores - default_threads())
    if frame_pixels >= threading_from:
        threads = max(threads, min(2, cores))
    return _env_count("FQSELECT_DECODER_THREADS") or threads
