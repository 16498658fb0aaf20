"""fqselect — pick the best face frames from videos, image folders, image lists and live streams.

The Python API the CLI is built on::

    import fqselect
    result = fqselect.select("clip.mp4", top=3)
    for pick in result.picks:
        print(pick.frame, pick.quality)
"""

__version__ = "0.1.0"

import os as _os  # noqa: E402

# OpenCV and its FFmpeg print their own warnings ("moov atom not found", "[ WARN:0@…]") to stderr,
# which would break the one-line-per-problem contract; our own messages say what went wrong instead.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
# Images are checked against this pixel cap from their header, before any memory is taken (decode/images.py);
# OpenCV reads it once, when it loads (the command's --max-pixels sets it before that).
from .options import DEFAULT_MAX_PIXELS as _MAX_PIXELS  # noqa: E402

_os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(_MAX_PIXELS))

# The API loads on first use (PEP 562), not with the package: the `fqselect` command configures its
# process before numpy and OpenCV load (see __main__.py).
_API = {
    "select": "api", "watch": "api", "score_images": "api", "score_crops": "api", "select_many": "run.batch", "run_batch": "run.batch",
    "Local": "run.batch", "Workers": "run.batch", "Ray": "run.batch",
    "process_input": "run.job", "Options": "options", "InputResult": "records", "Pick": "records",
    "ExitCode": "errors", "FQError": "errors", "InputError": "errors", "UsageError": "errors",
}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "select", "watch", "score_images", "score_crops", "select_many", "run_batch", "Local", "Workers", "Ray", "process_input",
    "Options", "InputResult", "Pick",
    "ExitCode", "FQError", "InputError", "UsageError", "__version__",
]
