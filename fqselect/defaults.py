"""Every default a user can change, declared once: the Python API (`Options`, the stages) and the CLI's
options read them here. This module imports nothing, so `fqselect --help` stays instant."""

DEFAULT_TOP = 3
DEFAULT_MIN_GAP = 1.0  # seconds between picks from one video, so the top 3 are not one moment thrice
DEFAULT_WINDOW = 1.0  # seconds of video reduced to one analysed frame: picks are a second apart anyway
DEFAULT_DETECTOR = "retinaface"
DEFAULT_MAX_SIDE = 640  # frames are shrunk to this longer side for detection (--det-size)
DEFAULT_THRESHOLD = 0.6  # detector confidence
DEFAULT_SCORER = "auto"  # the trained network DEFAULT_NETWORK, else FALLBACK_SCORER
DEFAULT_NETWORK = "tinyfqnet"
FALLBACK_SCORER = "combined"
DEFAULT_PROVIDER = "auto"
DEFAULT_MAX_PIXELS = 1 << 27  # images above this (134 M pixels: four 8K frames) are refused from their header
