"""The Python API, what the command is built on: `select` one input, `run_batch` many (here, in worker
processes or on Ray), `watch` a live stream, `score_images` and `score_crops` for faces without choosing
among them."""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .faces import FaceBatch
from .options import Options
from .quality import Scorer, load_scorer
from .records import InputResult
from .run.batch import Local, Ray, Workers, run_batch, select_many  # noqa: F401 (the public API)
from .run.job import process_input
from .run.score import score_images  # noqa: F401 (the public API)


def select(path: str, **options) -> InputResult:
    """The best faces of one video, image or image folder. Keyword options are those of `Options`.

    Raises InputError (with the input and the reason) when the input cannot be read or has no face;
    UsageError for bad options or missing models. A partly readable input returns its picks with
    `warnings`. For many inputs, `run_batch` and `select_many` report each input's status instead."""
    result = process_input(path, Options(**options))
    if result.status in ("failed", "no_face"):
        raise InputError(path, result.error or result.status)
    return result


def watch(source: str, emit=print, *, out: str | None = None, stop=None, log=None, **options) -> None:
    """Watch a live stream (an RTSP/HTTP URL, a capture device, or with follow=True a file being written)
    until it ends, `stop` (a threading.Event) is set or `duration` passes: each person's picks, as records
    (dicts), go to `emit` when they leave. Keyword options are those of `Options` and `LiveOptions`
    (leave, emit_every, timeout, duration, transport, follow); `log` gets the state lines (default: none)."""
    import threading
    from pathlib import Path

    from .options import LiveOptions, settings
    from .run.live import watch as watch_stream

    live = LiveOptions(**{k: options.pop(k) for k in list(options) if k in settings(LiveOptions)})
    watch_stream(source, Options(**options), live, Path(out) if out is not None else None, emit,
                 log or (lambda line: None), stop or threading.Event())


def score_crops(crops: np.ndarray, scorer: str | Scorer = "auto") -> np.ndarray:
    """Qualities of (N, 112, 112, 3) BGR ArcFace-aligned crops."""
    scorer = load_scorer(scorer) if isinstance(scorer, str) else scorer
    return scorer.score(FaceBatch.from_crops(crops))
