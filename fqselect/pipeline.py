"""The whole per-input job: decode → detect → align → score → select (→ embed).

`process_input(path, options)` is a pure function of its arguments: models are loaded once per process
(`load_models` caches them), so a batch can fan out over a process pool, or a cluster, unchanged.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .align import detect_and_align
from .decode import FRAME_TIME_SLACK, ChunkedVideo, Frame, InputSource, open_input, read_ahead, split_video
from .defaults import DEFAULT_EYES
from .detect import check_detector, load_detector
from .embed import check_recognizer, load_recognizer, quality_weighted_mean
from .errors import InputError, NoFaceError, UsageError
from .eyes import EyeOpenness, check_eye_model, eye_merit, eye_model_installed
from .faces import FaceBatch
from .models import model_pack_dir
from .persons import Gallery, PersonTracker
from .results import InputResult, Options, Pick, Progress
from .prescreen import Window, every_frame, joined, sharpest_per_window
from .score import Scorer, load_scorer, scorer_name
from .selection import Candidate, TopKSelector, unblocked_stretches

# A face of a window's sharpest frame this close to becoming a pick sends the window's next-sharpest
# frame to the detector too (REFINE_FRAMES more per pick the window can hold). The sharpest frame can
# score well below its window's best: in the bundled example's clean second, 0.896 against 0.968. With
# 0.02 (the network's mean frame-to-frame jitter) `--top 1` missed that second's best frame. The margin
# is in log-odds: qualities are calibrated probabilities that crowd near 1 for good faces, where a fixed
# 0.05 let nearly every good face through (0.5 log-odds is 0.068 at q = 0.8, 0.004 at q = 0.99; on four
# clips 0–62% fewer face regions were searched, top-1 within 0.1%: README, Benchmarks).
REFINE_LOG_ODDS = 0.5
REFINE_FRAMES = 1


def refine_margin(quality: float) -> float:
    """REFINE_LOG_ODDS as a difference in quality at this quality."""
    q = min(max(quality, 1e-6), 1 - 1e-6)
    return 1.0 / (1.0 + math.exp(-(math.log(q / (1 - q)) + REFINE_LOG_ODDS))) - q


@dataclass
class Models:
    detector: object
    scorer: Scorer
    model_pack: str | None
    eyes: EyeOpenness | None = None  # every pick's eyes_open, part of the merit unless --eyes any (None: not installed)
    _recognizer: object = None
    _galleries: dict = field(default_factory=dict)

    @property
    def recognizer(self):
        if self._recognizer is None:  # only --embeddings and --per-person pay for loading the recogniser
            self._recognizer = load_recognizer(self.model_pack)
        return self._recognizer

    def gallery(self, folder: str, threshold: float | None = None) -> Gallery:
        if (folder, threshold) not in self._galleries:
            self._galleries[folder, threshold] = Gallery(folder, self.detector, self.recognizer, threshold)
        return self._galleries[folder, threshold]


@lru_cache(maxsize=4)
def load_models(detector: str, det_size: int, det_threshold: float, scorer: str, model_pack: str | None) -> Models:
    """Models for one option set, created once per process and reused for every input."""
    return Models(
        load_detector(detector, model_pack, max_side=det_size, threshold=det_threshold),
        load_scorer(scorer),
        model_pack,
        EyeOpenness() if eye_model_installed() else None,
    )


def check_models(options: Options) -> str:
    """Fail fast on models that cannot be found (unknown names, missing packs or files, a recogniser that
    --embeddings or --per-person will need, a missing gallery) without loading them, so the first input
    can start decoding while they load; a --gallery is built here, so one with no usable face is a usage
    error before any input runs. The quality scorer's name."""
    check_detector(options.detector, options.model_pack)
    if options.eyes == "open":  # "prefer" ranks by quality alone where the eye network is not installed
        check_eye_model()
    if options.model_pack:
        model_pack_dir(options.model_pack)
    if options.embeddings or options.per_person or options.gallery:
        check_recognizer(options.model_pack)
    if options.gallery and not Path(options.gallery).is_dir():
        raise UsageError(f"{options.gallery}: gallery folder not found (expected <name>/<images>)")
    if options.gallery:  # a gallery without a usable face must stop the run before any input, not at a label
        models_for(options).gallery(options.gallery, options.match_threshold)
    return scorer_name(options.scorer)


def models_for(options: Options) -> Models:
    return load_models(options.detector, options.det_size, options.det_threshold, options.scorer, options.model_pack)


def worker_models(options: Options) -> Models:
    """The models of a worker process (a batch's, a Ray actor's): loaded once, one onnxruntime thread a
    session, as the workers already share the cores between them."""
    os.environ["FQSELECT_THREADS"] = "1"
    return models_for(options)


def process_input(path: str, options: Options, progress: Progress | None = None) -> InputResult:
    """Select the best faces of one input. Errors about the input come back in the result, not raised."""
    started = time.perf_counter()
    result = InputResult(input=path)
    try:
        with open_input(path, options.sampling) as source:
            _analyse(source, options, result, progress)
    except InputError as error:
        result.status = "no_face" if isinstance(error, NoFaceError) else "failed"
        result.error = error.reason
    except UsageError:  # about the run (a model that cannot load), not this input: the run stops
        raise
    except OSError as error:  # an unreadable folder, a file gone mid-read: this input's error only
        result.status, result.error = "failed", f"cannot read ({error.strerror or error})"
    except Exception as error:  # anything else any library raises on a hostile input costs only that input
        result.status, result.error = "failed", f"could not be analysed ({type(error).__name__}: {error})"
    result.seconds = time.perf_counter() - started
    return result


def _analyse(source: InputSource, options: Options, result: InputResult, progress: Progress | None) -> None:
    result.kind = source.kind
    min_gap = options.min_gap if source.kind == "video" else 0.0
    budget = window_budget(options, min_gap)
    with _decoded_windows(source, options, budget) as (reader, windows):  # decoding starts while models load
        models = models_for(options)
        # only the pre-screened video path can lose a pick to the gap (every other path analyses every frame)
        fills_gaps = source.kind == "video" and options.prescreen
        pickable = PickableWindows(needed=fills_gaps)
        if options.per_person:
            tracker = PersonTracker(options.top, min_gap, options.min_quality, models.recognizer)
            analyse = partial(_track_in_window, models=models, options=options, tracker=tracker, result=result,
                              pickable=pickable)
        else:
            selector = TopKSelector(options.top, min_gap, options.min_quality)
            analyse = partial(_select_in_window, models=models, options=options, selector=selector, result=result,
                              pickable=pickable)
        seen = _analyse_windows(windows, analyse, source.planned_frames(), progress)
    result.frames_decoded = getattr(reader, "decoded", seen)  # videos: the grabbed-only frames count too
    if fills_gaps:
        if options.per_person:
            _fill_person_gaps(source.path, options, tracker, pickable, models, result)
        else:
            _fill_gaps(source.path, options, selector, pickable, analyse, budget)
        result.timeline.sort(key=lambda entry: entry[0])  # the report draws it as a line
    result.warnings.extend(reader.warnings)
    if result.faces_seen == 0:
        raise NoFaceError(source.path)
    if options.per_person:
        _finish_persons(tracker, options, models, result)
    else:
        result.picks = _finish_picks(selector.picks(), models)
    if not result.picks:
        raise NoFaceError(source.path, f"no face reached --min-quality {options.min_quality}")
    if options.embeddings and not options.per_person:
        _embed(result, models)


def window_budget(options: Options, min_gap: float) -> int:
    """Detector runs a pre-screened window may take: its sharpest frame, and REFINE_FRAMES more for each
    pick it can hold (at most `--top`, `min_gap` apart; all k without a gap)."""
    picks_per_window = options.top if min_gap <= 0 else min(options.top, math.ceil(options.window / min_gap))
    return 1 + REFINE_FRAMES * picks_per_window


@contextmanager
def _decoded_windows(source: InputSource, options: Options, budget: int) -> Iterator[tuple[InputSource | ChunkedVideo, Iterator[Window]]]:
    """The reader and the windows to analyse, decoded on background threads. A pre-screened video is
    split into chunks that decode in parallel, pre-screened on their decoders' threads, where it can be
    (`decode.split_video`); else one reader decodes ahead and the pre-screen runs on the analysis thread,
    so the decoder's thread only decodes."""
    prescreened = source.kind == "video" and options.prescreen
    chunked = split_video(source, budget / options.window) if prescreened else None
    origin = options.sampling.start  # the windows' grid, the same for every chunk
    if chunked is not None:
        with chunked:
            parts = chunked.reduced(partial(sharpest_per_window, window=options.window, keep=budget, origin=origin),
                                    frames_of=lambda window: window.frames)
            yield chunked, joined(parts, budget)
        return
    with read_ahead(source) as decoded:
        yield source, sharpest_per_window(decoded, options.window, budget, origin) if prescreened else every_frame(decoded)


def _analyse_windows(windows: Iterable[Window], analyse: Callable[[Window], None], planned: int | None,
                     progress: Progress | None) -> int:
    """Frames looked at (converted to pixels), reported against `planned` as they go. One thread runs
    all of the analysis, so the decoder keeps a core of its own (a second analysis thread, detecting the
    next window while this one is refined, measured no faster)."""
    seen = 0
    for window in windows:
        analyse(window)
        seen += window.looked_at
        if progress:
            progress(seen, planned)
    return seen


def _finish_persons(tracker: PersonTracker, options: Options, models: Models, result: InputResult) -> None:
    result.persons = tracker.persons(models.gallery(options.gallery, options.match_threshold) if options.gallery else None)
    for person in result.persons:
        if options.embeddings:
            person.embedding = tracker.template(person.picks)
        for pick in _finish_picks(person.picks, models):
            pick.person, pick.identity = person.id, person.identity
            pick.similarity = None if person.similarity is None else round(float(person.similarity), 4)
            result.picks.append(pick)
    result.faces_embedded = tracker.embedded


@dataclass
class PickableWindows:
    """The windows whose analysed frames held a face good enough to be picked (--min-quality), and every
    frame analysed: what `_fill_gaps` and `_fill_person_gaps` need. Where no pick can be lost (`needed`
    False, or `forget` once the picks are sure), nothing is kept, so a long video's memory stays flat."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    analysed: set[int] = field(default_factory=set)
    needed: bool = True

    def note(self, window: Window, frame: Frame, faces: list[Candidate], min_quality: float) -> None:
        if not self.needed:
            return
        self.analysed.add(frame.index)
        if any(c.quality >= min_quality for c in faces) and (window.start, window.end) not in self.spans[-1:]:
            self.spans.append((window.start, window.end))

    def forget(self) -> None:
        self.needed, self.spans, self.analysed = False, [], set()

    def holding(self, times: list[float]) -> list[tuple[float, float]]:
        """The spans that hold one of these times (spans come in time order: a bisection each)."""
        starts = [start for start, _ in self.spans]
        held = set()
        for t in times:
            i = bisect.bisect_right(starts, t) - 1
            if i >= 0 and self.spans[i][1] >= t:
                held.add(i)
        return [self.spans[i] for i in sorted(held)]


def _select_in_window(window: Window, models: Models, options: Options, selector: TopKSelector, result: InputResult,
                      pickable: PickableWindows) -> None:
    """The window's sharpest frame goes through the detector whole. While the last frame analysed holds a
    face that could become a pick, the next-sharpest is searched too, near that frame's faces only (the
    window holds the budget's worth): a face's quality also moves with small changes of pose and
    landmark placement between frames, which sharpness does not see."""
    if selector.settled:  # it holds k faces 2·min_gap apart: it will give k picks, none lost to the gap
        pickable.forget()
    faces = _analyse_whole(window.frames[0], models, options, result)
    pickable.note(window, window.frames[0], faces, options.min_quality)
    for frame in window.frames[1:]:
        promising = _offer(faces, selector, result)
        if not promising:
            return
        faces = _analyse_near(frame, promising, models, options, result)
        pickable.note(window, frame, faces, options.min_quality)
    _offer(faces, selector, result)


def _fill_gaps(path: str, options: Options, selector: TopKSelector, pickable: PickableWindows,
               analyse: Callable[[Window], None], budget: int) -> None:
    """Fewer picks than --top although pickable faces were seen: the min-gap around the picks blocked them.
    A window's analysed frames can all lie within --min-gap of a pick while other frames of that window
    do not (a 3-s clip whose windows' sharpest frames fall mid-second: a pick at 1.1 s blocks both
    neighbours, and `--exhaustive` finds three picks where the windows gave two). Those stretches are
    decoded again and analysed as windows of their own."""
    taken = [c.time for c in selector.picks()]
    if len(taken) < options.top:
        stretches = unblocked_stretches(pickable.spans, taken, options.min_gap)
        for window in _stretch_windows(path, options, stretches, pickable.analysed, budget):
            analyse(window)


def _fill_person_gaps(path: str, options: Options, tracker: PersonTracker, pickable: PickableWindows,
                      models: Models, result: InputResult) -> None:
    """`_fill_gaps` for each track with fewer picks than --top: the sharpest frame of each stretch of its
    windows left free by its picks is searched near its face closest in time, and what is found there
    joins the track."""
    for track in tracker.finished + tracker.active:
        faces = track.selector.pool  # all of its faces while it has fewer than k picks (nothing is pruned)
        taken = [c.time for c in track.selector.picks()]
        if len(taken) >= options.top or not faces:
            continue
        stretches = unblocked_stretches(pickable.holding([c.time for c in faces]), taken, options.min_gap)
        for window in _stretch_windows(path, options, stretches, pickable.analysed, 1):
            anchor = min(faces, key=lambda c: abs(c.time - window.frames[0].time))
            found = _analyse_near(window.frames[0], [anchor], models, options, result)
            result.faces_seen += len(found)
            tracker.refine(found, [anchor], [track])


def _stretch_windows(path: str, options: Options, stretches: list[tuple[float, float]], analysed: set[int],
                     keep: int) -> Iterator[Window]:
    """Each stretch of the video decoded again as one window of its `keep` sharpest frames not analysed
    yet. A file that fails now only ends them: the picks it gave stand."""
    for start, end in stretches:
        sampling = replace(options.sampling, start=max(0.0, start - FRAME_TIME_SLACK), end=end + FRAME_TIME_SLACK)
        try:
            with open_input(path, sampling) as source:
                frames = (f for f in source.frames() if f.index not in analysed)
                yield from sharpest_per_window(frames, math.inf, keep)
        except (InputError, OSError):
            return


def _offer(faces: list[Candidate], selector: TopKSelector, result: InputResult) -> list[Candidate]:
    """Offer one frame's faces; those that could still become a pick (worth looking for again in the next
    frame). Each is judged against the others of its frame too, offered first: of six people in one
    moment only the best can be that moment's pick, so the others' regions are not searched again (where
    all six were, their regions merged into nearly the whole frame at a whole frame's cost)."""
    result.faces_seen += len(faces)
    for candidate in faces:
        selector.offer(candidate)
    return [c for c in faces if selector.could_pick(c, refine_margin(c.merit))]


def _track_in_window(window: Window, models: Models, options: Options, tracker: PersonTracker, result: InputResult,
                     pickable: PickableWindows) -> None:
    """--per-person: the window's sharpest frame goes through the detector whole and its faces are linked
    to tracks; while one of them could still become one of its person's picks, the next-sharpest frames
    are searched near them (as `_select_in_window` does), each face found joining its region's track."""
    faces = _analyse_whole(window.frames[0], models, options, result)
    pickable.note(window, window.frames[0], faces, options.min_quality)
    result.faces_seen += len(faces)
    tracks = tracker.update(faces)
    for frame in window.frames[1:]:
        if not any(t.selector.could_pick(c, refine_margin(c.merit)) for c, t in zip(faces, tracks)):
            return
        found = _analyse_near(frame, faces, models, options, result)
        pickable.note(window, frame, found, options.min_quality)
        result.faces_seen += len(found)
        faces, tracks = tracker.refine(found, faces, tracks)


def _analyse_whole(frame: Frame, models: Models, options: Options, result: InputResult) -> list[Candidate]:
    """A window's sharpest frame, through the detector whole (and onto the report's timeline)."""
    faces = analyse_frame(frame, models, options.min_face, eyes=options.eyes)
    result.frames_analysed += 1
    _on_timeline(result, frame, faces)
    return faces


def _analyse_near(frame: Frame, faces: list[Candidate], models: Models, options: Options, result: InputResult) -> list[Candidate]:
    """A window's next frame, searched only near the faces of the frame before it."""
    regions = np.array([c.payload.bbox for c in faces], np.float32)
    result.regions_analysed += len(regions)
    return analyse_frame(frame, models, options.min_face, regions, options.eyes)


def _on_timeline(result: InputResult, frame: Frame, faces: list[Candidate]) -> None:
    """The best face's quality of each frame analysed whole (None: no face), for the report's strip."""
    if result.kind == "video":
        result.timeline.append((round(frame.time, 3), round(max(c.quality for c in faces), 4) if faces else None))


def analyse_frame(frame: Frame, models: Models, min_face: int = 0, regions: np.ndarray | None = None,
                  eyes: str = DEFAULT_EYES) -> list[Candidate]:
    """The frame's faces (or those in `regions`) as candidates: merit = quality, or `eye_merit` of the quality
    and the eyes' openness unless --eyes any."""
    faces = detect_and_align(frame.image, models.detector, min_face, regions)
    if not len(faces):
        return []
    qualities = models.scorer.score(faces)
    openness = models.eyes.score(faces) if eyes != "any" and models.eyes else None
    merits = qualities if openness is None else eye_merit(qualities, openness, eyes)
    return [
        Candidate(
            float(merits[i]),
            frame.time,
            order=frame.index * 1000 + i,
            quality=float(qualities[i]),
            payload=Pick(
                source=frame.source,
                frame=frame.index,
                time=round(frame.time, 3),
                frame_size=[int(frame.image.shape[1]), int(frame.image.shape[0])],
                bbox=[round(float(v), 1) for v in faces.boxes[i]],
                landmarks=[[round(float(x), 2), round(float(y), 2)] for x, y in faces.landmarks[i]],
                det_score=round(float(faces.det_scores[i]), 4),
                quality=round(float(qualities[i]), 4),
                eyes_open=None if openness is None else round(float(openness[i]), 4),
                image=frame.image,
                crop=faces.crops[i],
            ),
        )
        for i in range(len(faces))
    ]


def _finish_picks(candidates: list[Candidate], models: Models) -> list[Pick]:
    """The picks, ranked and named, each with its eyes' openness (measured here under --eyes any, where
    only the picks need it; the other modes measured every face, 3% of a six-face 720p clip's analysis)."""
    picks = []
    for rank, candidate in enumerate(candidates, start=1):
        pick = candidate.payload
        pick.rank, pick.scorer, pick.scorer_version = rank, models.scorer.name, models.scorer.version
        picks.append(pick)
    unmeasured = [pick for pick in picks if pick.eyes_open is None]
    if unmeasured and models.eyes:
        openness = models.eyes.score(FaceBatch.from_crops(np.stack([pick.crop for pick in unmeasured])))
        for pick, value in zip(unmeasured, openness):
            pick.eyes_open = round(float(value), 4)
    return picks


def _embed(result: InputResult, models: Models) -> None:
    crops = np.stack([p.crop for p in result.picks])
    embeddings = models.recognizer.embed(crops)
    for pick, embedding in zip(result.picks, embeddings):
        pick.embedding = embedding
    result.embedding = quality_weighted_mean(embeddings, np.array([p.quality for p in result.picks]))


__all__ = ["process_input", "check_models", "models_for"]
