"""Stage 1, decode: videos, images and image folders become `Frame`s (one reader a file kind, read ahead
on a thread, video chunks decoded in parallel, windows pre-screened for the detector)."""

from ..options import Sampling
from .frame import FRAME_TIME_SLACK, Frame
from .images import IMAGE_SUFFIXES, NO_FOLDER_IMAGES, folder_images, read_image
from .inputs import InputSource, open_input, open_video

__all__ = ["FRAME_TIME_SLACK", "Frame", "Sampling", "IMAGE_SUFFIXES", "NO_FOLDER_IMAGES", "folder_images", "read_image",
           "InputSource", "open_input", "open_video"]
