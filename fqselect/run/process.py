"""Settings of the `fqselect` command's own processes (the command, its crash guard and its workers), never
applied on import: a library must not change its host's process."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# glibc malloc hands multi-megabyte blocks (a decoded frame, a detector blob) straight back to the kernel
# and takes fresh zeroed pages for the next one, so every video frame paid for page faults. Keeping freed
# blocks up to this size in the heap makes them reusable; memory stays bounded by what is alive.
MALLOC_REUSE_BYTES = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt() parameters, from glibc's malloc.h


def single_threaded_blas() -> None:
    """For the `fqselect` command (not on import: a library must not change its host's process), before
    numpy and OpenCV load. Their OpenBLAS builds each start threads that spin for a while once loaded,
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
