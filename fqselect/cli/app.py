"""The typer application every command registers on, and how a run ends: one line for every error, a
documented exit code, never a traceback.

`fqselect VIDEO ...` means `fqselect select VIDEO ...`. The research commands (`train`, `eval`,
`calibrate-sets`) live with the research harness and are loaded by name only when one is asked for or listed
(click's lazy-group pattern), so the product never imports the harness.
"""

from __future__ import annotations

import importlib
import os
import re
import sys

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..errors import ExitCode, FQError, UsageError
from .render import fail

EXIT_CODES = {
    ExitCode.OK: "every input gave a selection",
    ExitCode.INPUT_FAILED: "some input failed or was only partly readable (the others were still processed)",
    ExitCode.USAGE: "usage error (bad option, no input, unwritable --out, missing model or gallery)",
    ExitCode.NO_FACE: "no input failed but some had no face (or none above --min-quality)",
    ExitCode.INTERNAL: "internal error (a bug)",
    ExitCode.INTERRUPTED: "interrupted",
}
EXIT_CODES_HELP = "Exit codes: " + "; ".join(f"{int(code)} {meaning}" for code, meaning in EXIT_CODES.items()) + "."

# Commands of the research harness: name -> (module, the typer app holding them). Loaded on demand.
RESEARCH_COMMANDS = {name: "fqselect.research.commands" for name in ("eval", "train", "calibrate-sets")}


def exit_code(failed: bool, no_face: bool) -> ExitCode:
    """1 when an input failed (or was only partly read); else 3 when one had no face; else 0."""
    return ExitCode.INPUT_FAILED if failed else ExitCode.NO_FACE if no_face else ExitCode.OK


class ReaderLeft(Exception):
    """stdout's reader closed the pipe (`fqselect ... | head -1`)."""


class Interrupted(Exception):
    """Ctrl-C during a batch, with how far it got (click would turn a KeyboardInterrupt into a silent 130)."""


def _bare_ray(args: list[str]) -> list[str]:
    """`--ray` with no address means a Ray runtime on this machine: click options need a value, so a
    `--ray` not followed by something address-like gets `local`."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray":
            following = args[i + 1] if i + 1 < len(args) else ""
            if not (following in ("auto", "local") or "://" in following or re.fullmatch(r"[\w.-]+:\d+", following)):
                out.append("local")
    return out


class PlainUsage(TyperCommand):
    """A command whose usage line names its arguments as written (`INPUT...`), not as typer marks a
    required argument (`{INPUT...}`)."""

    def collect_usage_pieces(self, ctx):
        return ["[OPTIONS]", *(param.metavar or param.name.upper() for param in self.params
                               if param.param_type_name == "argument")]


class DefaultToSelect(TyperGroup):
    """`fqselect VIDEO ...` means `fqselect select VIDEO ...`: anything that is not a subcommand. The
    research commands are found by name, and imported only when asked for or listed."""

    ROOT_OPTIONS = ("--help", "-h", "--version", "--install-completion", "--show-completion")

    def parse_args(self, ctx, args):
        if args and args[0] not in self.list_commands(ctx) and args[0] not in self.ROOT_OPTIONS:
            args = ["select", *args]
        return super().parse_args(ctx, _bare_ray(args))

    def list_commands(self, ctx):
        return [*super().list_commands(ctx), *(name for name in RESEARCH_COMMANDS if name not in self.commands)]

    def get_command(self, ctx, name):
        if name in RESEARCH_COMMANDS and name not in self.commands:
            research = importlib.import_module(RESEARCH_COMMANDS[name])
            return typer.main.get_command(research.app).get_command(ctx, name)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # any command's stdout; as an OSError, click would turn it into exit 1
            raise ReaderLeft() from None


app = typer.Typer(
    cls=DefaultToSelect,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Pick the best face frames from videos, image folders, image lists and live streams.\n\n"
    "  fqselect VIDEO|FOLDER|IMAGE|URL|- ... [--top 3] [--out DIR] [--jsonl] [--embeddings]\n\n"
    "is `fqselect select ...`: `fqselect select --help` lists its options.\n\n" + EXIT_CODES_HELP,
)


def _version(value: bool):
    if value:
        typer.echo(f"fqselect {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")):
    pass


def run_app() -> int:
    """Run the typer app; the process exit code for how it ended."""
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit in this mode
        if code == ExitCode.INTERRUPTED:  # typer's own answer to Ctrl-C, without a word
            fail("interrupted")
        return code if isinstance(code, int) else ExitCode.OK
    except UsageError as error:
        fail(str(error))
        return ExitCode.USAGE
    except FQError as error:
        fail(str(error))
        return ExitCode.INPUT_FAILED
    except typer.Exit as done:
        return done.exit_code
    except Interrupted as interrupted:
        fail(str(interrupted))
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        fail("interrupted")
        return ExitCode.INTERRUPTED
    except (ReaderLeft, BrokenPipeError):  # `fqselect ... | head`: the reader left; not an error of ours
        return ExitCode.OK
    except typer.Abort:  # click's form of Ctrl-C
        fail("interrupted")
        return ExitCode.INTERRUPTED
    except typer.exceptions.TyperException as error:  # bad options, as parsed by typer (its own click)
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        if message:  # `fqselect` alone printed the help and has nothing to add
            fail(f"{message} (see {_help_for(error)})")
        return ExitCode.USAGE
    except Exception as error:  # a bug of ours: one line, and the traceback only when asked for
        if os.environ.get("FQSELECT_DEBUG") == "1":
            raise
        fail(f"internal error ({type(error).__name__}: {error}); FQSELECT_DEBUG=1 shows where. Please report it.")
        return ExitCode.INTERNAL


def _help_for(error) -> str:
    """Where the options of the command that refused them are listed."""
    context = getattr(error, "ctx", None)
    if context is None or context.parent is None:
        return "fqselect select --help" if context is None else "fqselect --help"
    return f"fqselect {context.info_name} --help"


def flush_and_exit(code: int) -> None:
    """Outputs are written and closed by now. Skipping the interpreter's teardown (onnxruntime sessions,
    module cleanup) is safe and is all that is left to do."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `fqselect ... | head`: the reader left; not an error of ours
        pass
    os._exit(code)
