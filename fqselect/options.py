"""Every option a user can set, declared once with its default, range, help and panel.

`Options` is what decides a result (hashable: workers keep their models per option set); `RunOptions` is
how a run goes (output folder, stdout, parallelism). Each field carries its `Setting`; the command's
options (`cli/options.py`) are built from these fields, and both classes check their own values, so the
Python API refuses what the command refuses. This module imports only the standard library, so
`fqselect --help` stays instant.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from .errors import UsageError

# Panels group the command's options in `--help`.
SELECTION, SAMPLING, MODELS, OUTPUT, BATCH, INPUT = "Selection", "Sampling (videos)", "Models", "Output", "Batch", "Input"
LIVE = "Live streams (rtsp://, http(s)://, /dev/videoN, --follow)"
TRANSPORTS = ("tcp", "udp")

EYES_MODES = ("prefer", "any", "open")
MOUTH_MODES = ("prefer", "any", "closed")
PROVIDERS = ("auto", "cpu", "cuda")
DEFAULT_NETWORK = "tinyfqnet"  # what --scorer auto means where it is installed
FALLBACK_SCORER = "combined"  # ... and where it is not
DEFAULT_MAX_SIDE = 640  # --det-size
DEFAULT_THRESHOLD = 0.6  # detector confidence
DEFAULT_MAX_PIXELS = 1 << 27  # four 8K frames
KEYFRAMES_PER_WINDOW = 2  # --keyframes decodes at most this many keyframes a --window
LONGEST_WINDOW, SHORTEST_WINDOW, MIN_WINDOWS = 1.0, 0.25, 40  # the default --window (Options.window_for)


@dataclass(frozen=True)
class Setting:
    """How an option is offered and checked: its help and panel, its command-line spellings (default:
    `--name-with-dashes`), its range or choices, and whether the command offers it at all."""

    help: str
    panel: str
    flags: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    command: bool = True  # False: set from Python only

    def spellings(self, name: str) -> tuple[str, ...]:
        return self.flags or ("--" + name.replace("_", "-"),)

    def problem(self, value) -> str | None:
        """Why `value` is refused, or None."""
        if value is None or isinstance(value, (bool, str, Path)):
            if self.choices and value not in self.choices:
                return f"not one of {', '.join(self.choices)}"
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return "expected a finite number"
        if self.min is not None and value < self.min:
            return f"must be at least {self.min:g}"
        if self.max is not None and value > self.max:
            return f"must be at most {self.max:g}"
        return None


def option(default, help: str, panel: str, **setting):
    """A dataclass field carrying its `Setting`."""
    return field(default=default, metadata={"setting": Setting(help, panel, **setting)})


def settings(cls) -> dict[str, tuple[object, Setting]]:
    """name -> (default, Setting) of every field of an options class, in declaration order."""
    return {f.name: (None if f.default is MISSING else f.default, f.metadata["setting"]) for f in fields(cls)
            if "setting" in f.metadata}


def check_values(instance) -> None:
    """UsageError naming the option for the first value its Setting refuses."""
    for name, (_, setting) in settings(type(instance)).items():
        value = getattr(instance, name)
        if (problem := setting.problem(value)) is not None:
            raise UsageError(f"{setting.spellings(name)[0]} {value}: {problem}")


@dataclass(frozen=True)
class Options:
    """Everything that decides a result (`fqselect.select("clip.mp4", top=5)` takes these by name)."""

    top: int = option(3, "Faces to pick per input.", SELECTION, flags=("--top", "-k"), min=1)
    min_quality: float = option(0.0, "Never pick faces below this quality.", SELECTION, min=0.0, max=1.0)
    eyes: str = option(
        "prefer", "prefer: a face whose eyes are not open (eyes_open, 0-1, the more closed eye) loses up to 1.5 of "
        "its score (log-odds), and as much again when they look aside (gaze), so open eyes looking at the camera "
        "win unless the recogniser rates a face far better; open: up to 4 each (gallery enrollment); any: the "
        "eyes are not ranked on.", SELECTION, choices=EYES_MODES)
    mouth: str = option(
        "prefer", "prefer: a face whose mouth is open (mouth_open: the inner lips' distance over the mouth's width, "
        "0.15 mid-word, 0.45 wide open) loses up to 1.5 of its score (log-odds), so calm faces win unless the "
        "recogniser rates a face far better; closed: up to 4 (gallery enrollment); any: the mouth is not ranked on.",
        SELECTION, choices=MOUTH_MODES)
    min_gap: float = option(1.0, "Seconds between picks from one video.", SELECTION, min=0.0)
    min_face: int = option(0, "Ignore faces whose box is smaller than this many pixels.", SELECTION, min=0)
    per_person: bool = option(False, "Link faces into persons and pick the TOP best of each person.", SELECTION)
    gallery: str | None = option(None, "Known people as <name>/<images>: label each person (implies --per-person).",
                                 SELECTION, metavar="DIR")
    match_threshold: float | None = option(
        None, "Cosine a person needs to take a gallery name (default: the recogniser's FMR 1e-3 point, 0.38 for "
        "SFace).", SELECTION, min=-1.0, max=1.0)
    every: int = option(1, "Analyse every Nth video frame.", SAMPLING, min=1)
    fps: float | None = option(None, "Analyse at most this many frames per second of video.", SAMPLING, min=0.001)
    max_frames: int | None = option(None, "Analyse at most this many frames per video.", SAMPLING, min=1)
    start: float = option(0.0, "Start time in seconds (by timestamp; seeks, does not decode what comes before).",
                          SAMPLING, min=0.0)
    end: float | None = option(None, "End time in seconds (by timestamp).", SAMPLING, min=0.0)
    exhaustive: bool = option(False, "Run the detector on every frame, not only on the sharpest frame(s) of each "
                              "--window.", SAMPLING)
    keyframes: bool = option(False, "Decode keyframes only, at most two a --window: many times faster on huge "
                             "archives, lossy (an IP camera's keyframe a second; x264's default can be 10 s apart).",
                             SAMPLING)
    window: float | None = option(None, "Seconds of video per pre-screening window (windows follow each other from "
                                  "--start): its sharpest frame goes to the detector. Default: 1, or shorter for a "
                                  "short video, so that it has at least 40 windows (not under 0.25).", SAMPLING,
                                  min=0.01)
    detector: str = option("retinaface", "retinaface, yunet, or scrfd (needs --model-pack).", MODELS)
    det_size: int = option(DEFAULT_MAX_SIDE, "Longer side frames are shrunk to for detection.", MODELS, min=64)
    det_threshold: float = option(DEFAULT_THRESHOLD, "Detector confidence a face needs.", MODELS, min=0.0, max=1.0,
                                  command=False)
    scorer: str = option("auto", "auto: the trained network, each face then ranked within its set (a video's person, "
                         "a folder) with the recogniser's agreement; or one scorer alone: a network in zoo/weights/, "
                         "blur, pose, jpeg, combined, size, detector, random, or an .onnx path.", MODELS)
    model_pack: str | None = option(None, "insightface model pack NAME or PATH on disk (SCRFD detector, ArcFace "
                                    "embeddings).", MODELS)
    embeddings: bool = option(False, "Also write the quality-weighted mean embedding (needs --out).", OUTPUT)

    def __post_init__(self):
        check_values(self)
        if self.end is not None and self.end <= self.start:
            raise UsageError(f"--end {self.end} must be after --start {self.start}")
        if self.keyframes and self.exhaustive:
            raise UsageError("--keyframes (keyframes only) and --exhaustive (every frame) contradict each other: choose one")
        if self.gallery is not None:  # a gallery names persons: it implies them
            object.__setattr__(self, "gallery", str(self.gallery))
            object.__setattr__(self, "per_person", True)

    @property
    def prescreen(self) -> bool:
        """Windowed pre-screening is the default; explicit sampling or --exhaustive analyse exactly the
        frames asked for."""
        return not (self.exhaustive or self.every > 1 or self.fps)

    @property
    def sampling(self) -> Sampling:
        """The frames decoded and handed on: for the pre-screen the decoder may skip frames that cannot win;
        --keyframes decodes keyframes only, KEYFRAMES_PER_WINDOW a window at most."""
        window = self.window or LONGEST_WINDOW
        return Sampling(self.every, self.fps, self.max_frames, self.start, self.end, self.prescreen, self.keyframes,
                        keyframe_spacing=window / KEYFRAMES_PER_WINDOW if self.keyframes else 0.0)

    def window_for(self, seconds: float | None) -> float:
        """The pre-screening window for a video of this many seconds (analysed from --start to --end):
        --window, else LONGEST_WINDOW, shortened for a short video to give it MIN_WINDOWS windows (never
        under SHORTEST_WINDOW): the picks of a short clip are then chosen among enough moments for the
        set's ranking to find neutral, open-eyed, frontal ones; a long video's cost is unchanged."""
        if self.window is not None:
            return self.window
        if not seconds or seconds <= 0:
            return LONGEST_WINDOW
        return min(LONGEST_WINDOW, max(SHORTEST_WINDOW, seconds / MIN_WINDOWS))


@dataclass(frozen=True)
class Sampling:
    """Which video frames are analysed: from `start` to `end` (seconds, by timestamp), every `every`-th
    frame and at most `fps` a second (both apply), at most `max_frames` in all.
    `prescreen`: the frames go to the pre-screen, which needs only their luminance, and the decoder may
    leave out non-reference frames (B-frames lie a frame or two from reference frames, whose best face
    is as good: docs/benchmarks.md). `keyframes`: only keyframes are decoded (lossy: on a camera's
    one-second GOP, one frame a second), and of those at most one every `keyframe_spacing` seconds (with
    a long --window, decoding every keyframe would be most of the work)."""

    every: int = 1
    fps: float | None = None
    max_frames: int | None = None
    start: float = 0.0
    end: float | None = None
    prescreen: bool = False
    keyframes: bool = False
    keyframe_spacing: float = 0.0

    def stride(self, native_fps: float) -> int:
        stride = max(1, self.every)
        if self.fps:
            stride = max(stride, round(native_fps / self.fps))
        return stride


@dataclass(frozen=True)
class RunOptions:
    """How a run of the command goes: where outputs go, what stdout carries, where the work runs."""

    out: Path | None = option(None, "Write frames, aligned crops and manifest.json per input here.", OUTPUT,
                              flags=("--out", "-o"))
    jsonl: bool = option(False, "One JSON object per picked face on stdout.", OUTPUT)
    csv: bool = option(False, "CSV on stdout instead: a header, then one row per picked face.", OUTPUT)
    report: bool = option(False, "Also write report.html (opens from disk) and contact_sheet.png into --out.", OUTPUT)
    sheet: bool = option(False, "Also write contact_sheet.png (the picked crops, a row per input or person) into "
                         "--out.", OUTPUT)
    overwrite: bool = option(False, "Replace existing outputs.", OUTPUT)
    quiet: bool = option(False, "No progress bar or summary on stderr (warnings and errors still go there).", OUTPUT,
                         flags=("--quiet", "-q"))
    resume: bool = option(False, "Skip inputs whose output folder is already complete.", BATCH)
    ray: str | None = option(None, "Run the inputs on a Ray cluster: auto, ray://host:port, host:port, or nothing "
                             "for a Ray runtime on this machine (needs fqselect's ray extra).", BATCH,
                             metavar="[ADDRESS]")
    workers: int | None = option(None, "Inputs processed in parallel (processes); default: one a core.", BATCH,
                                 flags=("--workers", "-j"), min=1)
    provider: str = option("auto", "onnxruntime execution provider: auto (CUDA when this onnxruntime has it), cpu, "
                           "cuda.", MODELS, choices=PROVIDERS)
    null: bool = option(False, "Paths on stdin (-) are NUL-separated, as find -print0 writes them.", INPUT,
                        flags=("--null", "-0"))
    max_pixels: int = option(DEFAULT_MAX_PIXELS, "Refuse images (and videos whose frames are) larger than this many "
                             "pixels, checked from the header before decoding (default: four 8K frames).", INPUT, min=1)

    def __post_init__(self):
        check_values(self)
        if self.csv and self.jsonl:
            raise UsageError("--csv and --jsonl both write to stdout: choose one")
        if (self.report or self.sheet) and self.out is None:
            raise UsageError("--report and --sheet write into the output folder: give --out DIR")


@dataclass(frozen=True)
class LiveOptions:
    """How a live stream is watched: when a person counts as gone, how often a long stay is reported, how
    a stalled or dropped stream is retried, and when to stop."""

    follow: bool = option(False, "Read file inputs as streams being written (as tail -f): MPEG-TS, MKV or FLV "
                          "files a recorder is appending to.", LIVE)
    leave: float = option(2.0, "Seconds a person must be out of view to be final: their picks are then emitted.",
                          LIVE, min=0.1)
    emit_every: float | None = option(None, "Also emit a running best shot of everyone in view this often "
                                      "(seconds; records say final: false).", LIVE, min=1.0)
    timeout: float = option(10.0, "Seconds without a packet before the stream counts as stalled and is reopened "
                            "(a --follow file that has not grown for this long is done).", LIVE, min=0.5)
    duration: float | None = option(None, "Stop after this many seconds (everyone in view is emitted).", LIVE, min=0.1)
    transport: str = option("tcp", "RTSP transport: tcp or udp.", LIVE, choices=TRANSPORTS)
    status_every: float = option(30.0, "Seconds between status lines on stderr (frames received, decoded, "
                                 "analysed, dropped; the lag).", LIVE, min=1.0)

    def __post_init__(self):
        check_values(self)


def split_values(values: dict) -> tuple[Options, RunOptions, LiveOptions]:
    """The command's parsed values as its option sets (each checks its own)."""
    analysis = {name: values[name] for name in settings(Options) if name in values}
    run = {name: values[name] for name in settings(RunOptions) if name in values}
    live = {name: values[name] for name in settings(LiveOptions) if name in values}
    options = Options(**analysis)
    if options.embeddings and run.get("out") is None:
        raise UsageError("--embeddings writes .npy files: give --out DIR")
    return options, RunOptions(**run), LiveOptions(**live)
