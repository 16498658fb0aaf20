"""The `fqselect` command: one module a command over the Python API, the option table turned into typer
options, what the command prints, and how a run ends (exit codes)."""

from . import models, report, score, select  # noqa: F401 (each registers its command on the app)
from .app import app, flush_and_exit, run_app
from .render import note  # noqa: F401 (the research commands print through it)


def main() -> None:
    """Entry point: one-line errors with documented exit codes, never a traceback."""
    from ..run.process import keep_freed_memory, silence_native_stderr

    keep_freed_memory()
    silence_native_stderr()
    flush_and_exit(run_app())


__all__ = ["app", "main"]
