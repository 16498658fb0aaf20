"""Still images: one image is one frame; a folder of images is one input (one template), its images the frames."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError
from .frame import Frame, Source

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".ppm", ".pgm", ".pbm", ".pnm"}
NO_FOLDER_IMAGES = "folder has no images (" + ", ".join(sorted(IMAGE_SUFFIXES)[:6]) + ", ...)"
PREFETCH_IMAGES = 2  # images read ahead: a photo can take 50 MB decoded
# OpenCV refuses, from the header and before allocating, images above this many pixels; fqselect/__init__
# sets the cap (OPENCV_IO_MAX_IMAGE_PIXELS) before OpenCV loads.
MAX_IMAGE_PIXELS = int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 27))


def read_image(path: str | Path) -> np.ndarray:
    """A BGR image, upright by its EXIF orientation; InputError when it is not a readable image (a FIFO or
    a device is refused before it is opened: reading one could block forever)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(str(path), "not a regular file")
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as error:
        raise InputError(str(path), f"cannot read ({error.strerror or error})") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as error:  # OpenCV checks the header's size against its pixel cap before decoding
        too_big = "CV_IO_MAX_IMAGE_PIXELS" in str(error)
        raise InputError(str(path), f"image larger than {MAX_IMAGE_PIXELS:,} pixels (header checked, not decoded)" if too_big
                         else "not an image OpenCV can decode (corrupt or unsupported)") from None
    if image is None:
        raise InputError(str(path), "not an image OpenCV can decode (corrupt or unsupported)")
    return image


def folder_images(folder: Path) -> list[Path]:
    """A folder's images (by suffix), sorted; a folder input with none is refused with NO_FOLDER_IMAGES."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageInput(Source):
    """One still image: one frame."""

    kind = "image"

    def __init__(self, path: str):
        self.path = path
        self.image = read_image(path)
        self.warnings: list[str] = []

    def planned_frames(self) -> int:
        return 1

    def frames(self) -> Iterator[Frame]:
        yield Frame(0, 0.0, self.image, self.path)


class FolderInput(Source):
    """A folder of images taken as one template: every image is a candidate frame."""

    kind = "folder"

    def __init__(self, path: str):
        self.path = path
        self.images = folder_images(Path(path))
        if not self.images:
            raise InputError(path, NO_FOLDER_IMAGES)
        self.warnings: list[str] = []

    def planned_frames(self) -> int:
        return len(self.images)

    def frames(self) -> Iterator[Frame]:
        for index, image_path in enumerate(self.images):
            try:
                image = read_image(image_path)
            except InputError as error:
                self.warnings.append(error.reason + f": {image_path.name}")
                continue
            yield Frame(index, 0.0, image, str(image_path))
