"""Errors and exit codes. Every failure a user can cause is an `FQError` with a one-line message."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and in `fqselect --help`."""

    OK = 0  # every input processed and produced a selection
    INPUT_FAILED = 1  # at least one input failed or had no face; the others were still processed
    USAGE = 2  # bad option, no inputs, unwritable --out, missing model
    INTERNAL = 3  # a bug in fqselect (one line; FQSELECT_DEBUG=1 shows the traceback)
    INTERRUPTED = 130  # Ctrl-C


class FQError(Exception):
    """An error the user can act on; the CLI prints `fqselect: <message>` and never a traceback."""


class InputError(FQError):
    """One input could not be processed (missing, unreadable, corrupt, no face, output exists)."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class NoFaceError(InputError):
    def __init__(self, source: str):
        super().__init__(source, "no face found")


class UsageError(FQError):
    """A problem with the options or the environment (models, output folder) rather than one input."""
