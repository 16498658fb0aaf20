"""Which reader takes a path: a folder, an image, or a video (by suffix, else by trying)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..options import Sampling
from .images import IMAGE_SUFFIXES, FolderInput, ImageInput
from .opencv import OpenCVVideoInput
from .pyav import VideoInput
from .video import VIDEO_SUFFIXES

InputSource = VideoInput | OpenCVVideoInput | ImageInput | FolderInput


def open_input(path: str, sampling: Sampling = Sampling()) -> InputSource:
    """The right reader for a path: a folder, an image, or a video (by suffix, else by trying)."""
    file = Path(path)
    if not file.exists():
        raise InputError(path, "no such file or folder")
    if file.is_dir():
        return FolderInput(path)
    if not file.is_file():  # a FIFO, a socket, a device: reading could block forever or never end
        raise InputError(path, "not a regular file or folder")
    suffix = file.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageInput(path)
    if suffix in VIDEO_SUFFIXES:
        return open_video(path, sampling)
    try:
        return ImageInput(path)
    except InputError:
        pass
    try:
        return open_video(path, sampling)
    except InputError:
        raise InputError(path, "not an image or video OpenCV can read") from None


def open_video(path: str, sampling: Sampling = Sampling()) -> VideoInput | OpenCVVideoInput:
    """PyAV's reader, else OpenCV's (FQSELECT_VIDEO_READER=opencv asks for it): a file one cannot open
    is tried with the other; PyAV's error stands when neither can."""
    if os.environ.get("FQSELECT_VIDEO_READER") == "opencv":
        return OpenCVVideoInput(path, sampling)
    try:
        return VideoInput(path, sampling)
    except ImportError:  # PyAV is a dependency; an install without it still reads videos
        return OpenCVVideoInput(path, sampling)
    except InputError as error:
        if "larger than" in error.reason:
            raise
        try:
            return OpenCVVideoInput(path, sampling)
        except InputError:
            raise error from None
