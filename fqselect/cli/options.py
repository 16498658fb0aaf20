"""The command's options, made from the option table (fqselect/options.py): each command names the fields it
offers, and `with_options` gives its function a signature typer reads, so a default, range or help text
is written once and every command that offers an option offers it alike."""

from __future__ import annotations

import enum
import functools
import inspect
import typing
from typing import Callable, Optional

import typer

from ..options import LiveOptions, Options, RunOptions, settings

SOURCES = (Options, RunOptions, LiveOptions)


@functools.cache
def _type_hints(cls) -> dict:
    """The class's field types, evaluated once (each evaluation compiles every annotation: `--help` pays it)."""
    return typing.get_type_hints(cls)


def _hint(cls, name: str):
    """The field's type as typer reads it (`X | None` as Optional[X])."""
    hint = _type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return Optional[args[0]] if len(args) == 1 and type(None) in typing.get_args(hint) else hint


def typer_option(name: str, **override) -> tuple[object, object]:
    """(type, typer.Option) for the table's field `name`; `override` changes what one command says."""
    for cls in SOURCES:
        if name in (table := settings(cls)):
            default, setting = table[name]
            break
    else:
        raise KeyError(name)
    extra = {key: value for key, value in (("min", setting.min), ("max", setting.max), ("metavar", setting.metavar))
             if value is not None}
    extra.update(help=setting.help, rich_help_panel=setting.panel, show_default=default not in (None, False))
    extra.update(override)
    hint = _hint(cls, name)
    if setting.choices:  # typer offers and checks choices as an Enum's values
        hint = enum.Enum(name.title().replace("_", ""), {choice: choice for choice in setting.choices}, type=str)
        default = hint(default)
    return hint, typer.Option(default, *setting.spellings(name), **extra)


def plain(values: dict) -> dict:
    """The parsed values with choices as their strings."""
    return {name: value.value if isinstance(value, enum.Enum) else value for name, value in values.items()}


def with_options(*names: str, **overrides: dict) -> Callable:
    """Give a command function `def command(<its own parameters>, **values)` the table's options `names`
    as keyword parameters (typer calls it with them in `values`); `overrides[name]` changes one option's
    help or the like for this command."""

    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        annotations = typing.get_type_hints(function)
        added = []
        for name in names:
            hint, default = typer_option(name, **overrides.get(name, {}))
            added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint))
            annotations[name] = hint
        function.__signature__ = signature.replace(parameters=[*own, *added])
        function.__annotations__ = annotations
        return function

    return decorate


ANALYSIS = tuple(name for name, (_, setting) in settings(Options).items() if setting.command)
RUN = tuple(settings(RunOptions))
LIVE = tuple(settings(LiveOptions))
