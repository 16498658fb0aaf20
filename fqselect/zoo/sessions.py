"""onnxruntime sessions: the one place that picks execution providers and thread counts, so that CUDA is
used where the user has it and the CPU threads leave the video decoder its core (fqselect.cores)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..cores import default_threads
from ..errors import UsageError

if TYPE_CHECKING:
    import onnxruntime

DEFAULT_PROVIDER = "auto"


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
