"""Errors and exit codes. Every failure a user can cause is an `FQError` with a one-line message."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and in `fqselect --help`."""

    OK = 0  # every input processed and produced a selection
    INPUT_FAILED = 1  # at least one input failed (or was only partly readable); the others were still processed
    NO_FACE = 3  # no input failed, but at least one had no face (or none above --min-quality)
    USAGE = 2  # bad option, no inputs, unwritable --out, missing model
    INTERNAL = 70  # a bug in fqselect (one line; FQSELECT_DEBUG=1 shows the traceback); sysexits' EX_SOFTWARE
    INTERRUPTED = 130  # Ctrl-C


class FQError(Exception):
    """An error the user can act on; the CLI prints `fqselect: <message>` and never a traceback."""


class InputError(FQError):
    """One input could not be processed (missing, unreadable, corrupt, no face, output exists)."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


NO_FACE_REASON = "no face found"


class NoFaceError(InputError):
    """The input was read, but holds no face (or none above --min-quality): not a failure of the input."""

    def __init__(self, source: str, reason: str = NO_FACE_REASON):
        super().__init__(source, reason)


class UsageError(FQError):
    """A problem with the options or the environment (models, output folder) rather than one input."""
