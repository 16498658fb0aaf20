"""The command's crash guard: a decoder that crashes on a hostile file (a segfault in native code) still
gets fqselect's one-line error and exit code 1, also when the run has a single input.

`guard_command()` runs first, before numpy or OpenCV load, while forking is cheap. The
process forks: the child runs the command as usual, and the parent only waits for it. When the child
dies of a crash signal, the parent prints `fqselect: error: <input>: decoder crashed (SIGSEGV)` (the
child names its input through a pipe) and exits 1; otherwise it exits with the child's code. Signals a
user sends to the parent's pid (kill, a supervisor's SIGTERM, Ctrl-C from a program) are passed on; a
terminal's Ctrl-C already reaches both, so the parent does not pass that one on twice. The child dies
with the parent (PR_SET_PDEATHSIG), so a SIGKILL of the parent leaves nothing behind.
Batches of two or more inputs are isolated per input by their worker processes (run/supervise.py).
"""

from __future__ import annotations

import os
import signal
import sys

from ..errors import ExitCode
from .process import die_with_parent

CRASHES = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
PASSED_ON = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
ENV_FD = "FQSELECT_GUARD_FD"


def guard_command() -> None:
    """Fork; return in the child (which runs the command); in the parent, wait and exit. A no-op where
    fork or sigwaitinfo is missing (Windows, macOS), inside a guarded child, or with FQSELECT_GUARD=0."""
    if (not hasattr(os, "fork") or not hasattr(signal, "sigwaitinfo") or ENV_FD in os.environ
            or os.environ.get("FQSELECT_GUARD") == "0"):
        return
    watched = PASSED_ON | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    read_end, write_end = os.pipe()
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        os.environ[ENV_FD] = str(write_end)
        die_with_parent(parent)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
        return
    os.close(write_end)
    status = _wait(child, watched)
    os._exit(_exit_code(status, read_end))


def name_input(path: str) -> None:
    """In the guarded child: the input being analysed, for the parent's crash message."""
    fd = os.environ.get(ENV_FD)
    if fd is not None:
        try:
            os.write(int(fd), os.fsencode(path) + b"\0")
        except OSError:
            pass


def _wait(child: int, watched: set) -> int:
    while True:
        info = signal.sigwaitinfo(watched)
        if info.si_signo == signal.SIGCHLD:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid == child:
                return status
        elif info.si_pid != 0 or info.si_signo != signal.SIGINT:  # not the terminal's own Ctrl-C
            try:
                os.kill(child, info.si_signo)
            except ProcessLookupError:
                pass


def _exit_code(status: int, read_end: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    number = os.WTERMSIG(status)
    if number in CRASHES:
        inputs = _read_all(read_end).split(b"\0")
        name = os.fsdecode(inputs[-2]) if len(inputs) > 1 else "the input"
        sys.stderr.write(f"fqselect: error: {name}: decoder crashed ({signal.Signals(number).name})\n")
        sys.stderr.flush()
        return ExitCode.INPUT_FAILED
    return 128 + number


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)
