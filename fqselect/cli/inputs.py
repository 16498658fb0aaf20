"""The command's inputs: paths as given, `-` for paths on standard input."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

from ..errors import UsageError

PATH_MAX = 4096  # bytes; a longer "path" on stdin is data piped in by mistake


def folder_or_file(path: str) -> list[str]:
    """`fqselect score`'s inputs: a folder stands for its images (as a folder input's are: sorted, by
    suffix), anything else for itself."""
    if os.path.isdir(path):
        from ..decode import folder_images

        return [str(image) for image in folder_images(Path(path))]
    return [path]


def expand_inputs(inputs: Iterable[str], null: bool = False) -> list[str]:
    """Paths as given; `-` stands for the paths on standard input: one per line (surrounding blanks
    dropped), or with `null` NUL-separated and taken exactly (`find -print0`: names with newlines or
    blanks). UsageError when standard input holds binary data, such as a video piped in by mistake."""
    paths: list[str] = []
    for item in inputs:
        if item != "-":
            paths.append(item)
            continue
        data = sys.stdin.buffer.read()
        chunks = data.split(b"\0") if null else data.splitlines()
        if (not null and b"\0" in data) or any(len(chunk) > PATH_MAX for chunk in chunks):
            raise UsageError("standard input holds binary data, not paths (give the file as an argument, "
                             "or paths one per line, or NUL-separated with -0)")
        for chunk in chunks:
            name = chunk.decode(sys.getfilesystemencoding(), "surrogateescape")  # any name the OS allows
            if null and name:
                paths.append(name)
            elif not null and name.strip():
                paths.append(name.strip())
    return paths


def limit_image_pixels(max_pixels: int) -> None:
    """--max-pixels: OpenCV reads its cap from the environment once, when it loads, so it is set here,
    before anything imports OpenCV (spawned workers inherit it)."""
    if "cv2" in sys.modules and os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS") != str(max_pixels):
        raise UsageError("--max-pixels must be set before OpenCV loads")  # only an embedding host can do this
    os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(max_pixels)
