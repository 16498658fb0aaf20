"""How the machine's cores are shared: worker processes, onnxruntime threads, FFmpeg threads.

On small machines the video decoder needs a core of its own beside the analysis, so every thread count
comes from here (FQSELECT_THREADS and FQSELECT_DECODER_THREADS override them)."""

from __future__ import annotations

import os

from .errors import UsageError

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
    """Threads for the sessions of the set ranking (the recogniser, the eye model): FQSELECT_THREADS, else
    every usable core. They run mostly at the end of an input, once decoding is over (the ranked faces'
    embeddings and eyes), when a one-thread session would leave a core idle (docs/sets.md)."""
    return _env_count("FQSELECT_THREADS") or usable_cores()


def decoder_threads(frame_pixels: int = 0, threading_from: int = FRAME_THREADING_MIN_PIXELS) -> int:
    """FFmpeg threads for decoding frames of this many pixels: FQSELECT_DECODER_THREADS, else the cores
    onnxruntime sessions leave free, and two wherever there are two cores for frames of `threading_from`
    pixels or more."""
    cores = usable_cores()  # the process's CPU affinity (a container's or taskset's cores), not the machine's
    threads = max(1, cores - default_threads())
    if frame_pixels >= threading_from:
        threads = max(threads, min(2, cores))
    return _env_count("FQSELECT_DECODER_THREADS") or threads
