"""onnxruntime sessions: one place that picks providers and thread counts.

Every model class gets its session from `create_session`, so that CUDA is used when the user has it and
the CPU thread settings stay consistent (the decoder thread needs a core of its own on small machines).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .defaults import DEFAULT_PROVIDER, usable_cores
from .errors import UsageError

if TYPE_CHECKING:
    import onnxruntime


# glibc malloc hands multi-megabyte blocks (a decoded frame, a detector blob) straight back to the kernel
# and takes fresh zeroed pages for the next one: every video frame paid ~2 ms of page faults. Keeping
# freed blocks up to this size in the heap makes them reusable; memory stays bounded by what is alive.
MALLOC_REUSE_BYTES = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt() parameters, from glibc's malloc.h


def single_threaded_blas() -> None:
    """For the `fqselect` command (not on import: a library must not change its host's process), before
    numpy and OpenCV load. Their OpenBLAS builds each start threads that spin ~0.1 s of CPU once loaded,
    though no fqselect path uses threaded BLAS: on two cores that is taken from the first video's decoding.
    Worker processes inherit the setting through the environment."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def silence_native_stderr() -> None:
    """For the `fqselect` command: native libraries' own messages (libpng's "bad adaptive filter value",
    libjpeg's "Corrupt JPEG data", FFmpeg's, onnxruntime's) name no input and would bury fqselect's one
    line per problem, which already says what failed. Python's sys.stderr keeps the real stream (a
    duplicate of it); file descriptor 2, which C code writes to, goes to /dev/null.
    FQSELECT_LIBRARY_MESSAGES=1 keeps them, for debugging."""
    if os.environ.get("FQSELECT_LIBRARY_MESSAGES") == "1":
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # no stderr at all: nothing to keep apart
        return
    os.set_inheritable(real, False)
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                           errors="backslashreplace")


def die_with_parent(parent: int) -> None:
    """For a child process of the command's (the crash guard's child, a batch worker): Linux has the kernel
    kill it when its parent dies, even by SIGKILL; where the parent is already gone, it leaves now."""
    if sys.platform.startswith("linux"):
        try:
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def keep_freed_memory() -> None:
    """Process-wide allocator policy for the command and its workers (not applied on import: a library
    must not change its host's allocator). A no-op where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None)  # the symbols the interpreter is linked with, the C library's among them
        libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_REUSE_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * MALLOC_REUSE_BYTES)
    except (OSError, AttributeError):  # musl and others have no mallopt
        pass


@lru_cache(maxsize=1)
def onnxruntime_module():
    """onnxruntime, imported when the first session is made, not with fqselect: a video's decoding has
    started by then, and the import (tens of ms) overlaps it."""
    import onnxruntime

    # Quiet onnxruntime's graph-cleanup warnings about the PyPI-shipped models; real errors still raise.
    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


PROVIDERS = {"cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
PROVIDER_CHOICES = ("auto", "cpu", "cuda")


def provider_policy() -> str:
    """auto | cpu | cuda: FQSELECT_PROVIDER (the command's --provider sets it, so worker processes
    inherit it), default auto."""
    policy = os.environ.get("FQSELECT_PROVIDER", DEFAULT_PROVIDER).lower()
    if policy not in PROVIDER_CHOICES:
        raise UsageError(f"FQSELECT_PROVIDER={policy!r}: expected one of {', '.join(PROVIDER_CHOICES)}")
    return policy


def set_provider(policy: str) -> None:
    """Choose the execution provider for every session this process (and its workers) creates; a
    UsageError at once when `cuda` is asked for and this onnxruntime has no CUDA. Only `cuda` is checked
    here: importing onnxruntime for `auto` or `cpu` would move that import before decoding starts."""
    if policy not in PROVIDER_CHOICES:
        raise UsageError(f"--provider {policy!r}: expected one of {', '.join(PROVIDER_CHOICES)}")
    os.environ["FQSELECT_PROVIDER"] = policy
    if policy == "cuda":
        available_providers()


def available_providers() -> list[str]:
    """Providers for a session, best first, by the policy: auto takes CUDA when this onnxruntime build
    has it, else the CPU."""
    policy = provider_policy()
    have = set(onnxruntime_module().get_available_providers())
    if policy == "cuda" and PROVIDERS["cuda"] not in have:
        raise UsageError("--provider cuda: this onnxruntime has no CUDAExecutionProvider "
                         f"(it has {', '.join(sorted(have))}); pip install onnxruntime-gpu")
    wanted = {"auto": ["cuda", "cpu"], "cpu": ["cpu"], "cuda": ["cuda", "cpu"]}[policy]
    return [PROVIDERS[p] for p in wanted if PROVIDERS[p] in have]


def uses_cuda(session) -> bool:
    return PROVIDERS["cuda"] in session.get_providers()


def _env_count(name: str) -> int | None:
    """A positive whole number from the environment variable `name`, None when unset."""
    value = os.environ.get(name)
    if not value:
        return None
    if not value.strip().isdigit() or int(value) < 1:
        raise UsageError(f"{name}={value!r}: expected a whole number of threads, 1 or more")
    return int(value)


def default_threads() -> int:
    """Threads per session: FQSELECT_THREADS, else all usable cores but one (the decoder's), at least one."""
    return _env_count("FQSELECT_THREADS") or max(1, usable_cores() - 1)


# From this frame size up (1080p is 2.07 M pixels), FFmpeg gets a second thread on two cores: decoding is
# then the longest stage and frame threading fills the gaps the analysis leaves on the other core. On
# smaller frames its own overhead costs more than that (whole-command ratio, 400-frame clips: 1080p 0.79
# -> 0.90, 720p 0.79 -> 0.75).
FRAME_THREADING_MIN_PIXELS = 1_500_000


def decoder_threads(frame_pixels: int = 0, threading_from: int = FRAME_THREADING_MIN_PIXELS) -> int:
    """FFmpeg threads for decoding frames of this many pixels: FQSELECT_DECODER_THREADS, else the cores
    onnxruntime sessions leave free, and two wherever there are two cores for frames of `threading_from`
    pixels or more."""
    cores = usable_cores()  # the process's CPU affinity (a container's or taskset's cores), not the machine's
    threads = max(1, cores - default_threads())
    if frame_pixels >= threading_from:
        threads = max(threads, min(2, cores))
    return _env_count("FQSELECT_DECODER_THREADS") or threads


def load_session(path: Path, what: str, threads: int | None = None) -> onnxruntime.InferenceSession:
    """`create_session` for a model file a user or an install provides: a UsageError naming the file and
    onnxruntime's reason when it cannot load (onnxruntime raises its own exception classes)."""
    try:
        return create_session(path, threads)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(f"{path}: not {what} onnxruntime can load ({reason})") from None


def create_session(model: str | Path | bytes, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An InferenceSession from a path or serialized bytes, with the project's provider/thread policy."""
    ort = onnxruntime_module()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=available_providers())
