"""One registry of every model fqselect can run, in the spirit of timm's `register_model` /
`create_model` / `list_models`: each detector, recogniser and quality scorer registers, next to its
class, a name, a version, how it loads, where its weights come from and what it needs (an insightface
model pack, an extra). Everything that picks a model by name goes through `create_model`; `fqselect
models` prints `list_models()`.

The model modules register themselves when imported; `_load()` imports them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import UsageError

KINDS = ("detector", "recognizer", "scorer")
# The modules whose classes register themselves, imported by name when the registry is first asked (the
# plugin pattern: this module imports none of them, so they can all import it).
MODEL_MODULES = ("fqselect.faces.retinaface", "fqselect.faces.yunet", "fqselect.faces.scrfd", "fqselect.faces.sface",
                 "fqselect.faces.arcface", "fqselect.faces.dlib", "fqselect.quality.perceptual",
                 "fqselect.quality.network", "fqselect.quality.eyes", "fqselect.quality.mouth")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one model, without loading it."""

    kind: str
    name: str
    version: str
    factory: Callable[..., Any] = field(repr=False)
    source: str  # where its weights come from
    needs_pack: bool = False  # needs an insightface model pack on disk (--model-pack)
    check: Callable[[str | None], None] | None = field(default=None, repr=False)  # UsageError if unusable
    # Operating points and input spec: recognisers give `match` (cosine at FMR 1e-3) and `link`.
    info: dict = field(default_factory=dict)

    def usable(self, model_pack: str | None = None) -> str | None:
        """None when the model can be built now, else why not (one line)."""
        if self.needs_pack and not model_pack:
            return "needs --model-pack NAME|PATH (an insightface model pack on disk)"
        try:
            if self.check:
                self.check(model_pack)
        except UsageError as error:
            return str(error)
        return None


_MODELS: dict[tuple[str, str], ModelInfo] = {}
_DISCOVERERS: dict[str, Callable[[], list[ModelInfo]]] = {}
_loaded = False


def register_model(kind: str, name: str, version: str, source: str, needs_pack: bool = False,
                   check: Callable[[str | None], None] | None = None, **info) -> Callable:
    """Class (or factory) decorator: `@register_model("detector", "retinaface", "1", source=...)`."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}")

    def decorate(factory):
        _MODELS[(kind, name)] = ModelInfo(kind, name, version, factory, source, needs_pack, check, dict(info))
        return factory

    return decorate


def register_discoverer(kind: str, discover: Callable[[], list[ModelInfo]]) -> None:
    """Models found at look-up time rather than at import (the trained networks in weights/)."""
    _DISCOVERERS[kind] = discover


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in MODEL_MODULES:
            importlib.import_module(module)
        _loaded = True


def list_models(kind: str | None = None) -> list[ModelInfo]:
    """Every registered model (of one kind), detectors first, then recognisers and scorers, each kind in
    registration order with the discovered ones last."""
    _load()
    found = [m for m in _MODELS.values() if kind in (None, m.kind)]
    for discovered_kind, discover in _DISCOVERERS.items():
        if kind in (None, discovered_kind):
            found += [m for m in discover() if (m.kind, m.name) not in _MODELS]
    return sorted(found, key=lambda m: KINDS.index(m.kind))


def model_info(kind: str, name: str) -> ModelInfo:
    """The model `name` of `kind`; UsageError naming the choices when there is none."""
    for model in list_models(kind):
        if model.name == name:
            return model
    choices = ", ".join(m.name for m in list_models(kind))
    raise UsageError(f"unknown {kind} {name!r} (choose from {choices})")


def check_model(kind: str, name: str, model_pack: str | None = None) -> ModelInfo:
    """The model's info, after checking without loading it that it can be built (UsageError if not)."""
    model = model_info(kind, name)
    problem = model.usable(model_pack)
    if problem:
        raise UsageError(f"{kind} {name!r}: {problem}")
    return model


def create_model(kind: str, name: str, model_pack: str | None = None, **options) -> Any:
    """A model instance by kind and name; `model_pack` for those that need one, other options as the
    model's class takes them (e.g. a detector's max_side and threshold)."""
    model = check_model(kind, name, model_pack)
    return model.factory(model_pack, **options) if model.needs_pack else model.factory(**options)
