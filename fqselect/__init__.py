"""fqselect — pick the best face frames from videos, image folders and image lists.

The Python API the CLI is built on::

    import fqselect
    result = fqselect.select("clip.mp4", top=3)
    for pick in result.picks:
        print(pick.frame, pick.quality)
"""

__version__ = "0.1.0"

from .api import score_crops, score_images, select  # noqa: E402
from .errors import ExitCode, FQError, InputError, UsageError  # noqa: E402
from .pipeline import InputResult, Options, Pick, process_input  # noqa: E402

__all__ = [
    "select", "score_images", "score_crops", "process_input", "Options", "InputResult", "Pick",
    "ExitCode", "FQError", "InputError", "UsageError", "__version__",
]
