"""Every default a user can change, declared once: the Python API (`Options`, the stages) and the CLI's
options read them here. This module imports nothing but `os`, so `fqselect --help` stays instant."""

import os

DEFAULT_TOP = 3
DEFAULT_MIN_GAP = 1.0  # seconds between picks from one video, so the top 3 are not one moment thrice
DEFAULT_WINDOW = 1.0  # seconds of video reduced to one analysed frame: picks are a second apart anyway
DEFAULT_DETECTOR = "retinaface"
DEFAULT_MAX_SIDE = 640  # frames are shrunk to this longer side for detection (--det-size)
DEFAULT_THRESHOLD = 0.6  # detector confidence
DEFAULT_SCORER = "auto"  # the trained network DEFAULT_NETWORK, else FALLBACK_SCORER
DEFAULT_NETWORK = "tinyfqnet"
FALLBACK_SCORER = "combined"
# Picks rank by quality ("any"), by quality with open eyes breaking near-ties ("prefer", eyes.eye_merit),
# or by quality × eye openness ("open", eyes.eye_factor): enrollment wants open eyes, and the recogniser
# barely minds a wink, so quality alone ranks winks and downcast eyes level with open ones.
# "prefer" by default, not "open": where the eyes cannot be seen (heavy blur, blocks, a tiny face) the eye
# network is unsure, so on a face whose eyes are downcast throughout, "open" prefers damaged frames to
# clean ones (the bundled example: README, Eye openness), while "prefer" only reorders faces of about one
# quality.
DEFAULT_EYES = "prefer"
EYES_MODES = ("any", "prefer", "open")
DEFAULT_PROVIDER = "auto"
DEFAULT_MAX_PIXELS = 1 << 27  # images above this (134 M pixels: four 8K frames) are refused from their header


def default_workers() -> int:
    """One worker process a core this process may use (`--workers`). Each input also keeps a decoder
    thread beside its analysis, yet on two cores two workers beat one everywhere measured (PyAV's
    decoder leaves gaps a second input fills): 1,000 one-second clips 1.69×, eight 150-frame clips
    1.30×, the eight real clips 1.31×, four 30-s 720p clips 1.17× (bench_many_clips, bench_batch)."""
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one), at least one."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return max(1, len(cores))
