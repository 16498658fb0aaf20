"""fqselect — pick the best face frames from videos, image folders and image lists.

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

from .api import score_crops, score_images, select  # noqa: E402
from .errors import ExitCode, FQError, InputError, UsageError  # noqa: E402
from .pipeline import InputResult, Options, Pick, process_input  # noqa: E402

__all__ = [
    "select", "score_images", "score_crops", "process_input", "Options", "InputResult", "Pick",
    "ExitCode", "FQError", "InputError", "UsageError", "__version__",
]
