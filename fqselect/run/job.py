"""The per-input job: decode → faces → quality → choose, for one input (`process_input`).

`process_input(path, options)` is a pure function of its arguments: models are loaded once per process
(`run.bundle`), so a batch can fan out over processes or a cluster unchanged. Each window of frames goes
to the detector at its sharpest frame; while one of its faces could still become a pick, the window's
next-sharpest frames are searched near it. The picker (choose/) decides what a face is worth and which
faces are picks; this module only drives it.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Iterator

import numpy as np

from ..choose.ahead import RankAhead
from ..choose.persons import PersonTracker
from ..choose.pickers import OneSet, PersonPicker, Picker, Selection, TopKPicker, TrackedSets
from ..choose.ranking import Embedder, SetRanker, read_parts, stream_merit
from ..choose.topk import Candidate
from ..decode import FRAME_TIME_SLACK, Frame, open_input
from ..decode.chunks import split_video
from ..decode.inputs import InputSource
from ..decode.prescreen import Window, every_frame, joined, sharpest_per_window
from ..decode.readahead import read_ahead
from ..errors import InputError, NoFaceError, UsageError
from ..faces import detect_and_align
from ..faces.recognize import quality_weighted_mean
from ..options import Options, Sampling
from ..quality.agreement import SetCalibration
from ..records import InputResult, Pick, Progress
from .bundle import ModelBundle, models_for, recognizer_soon

FRAME_SEARCH = 0.002  # seconds either side of a pick's time (rounded to the millisecond) its frame is sought
REFINE_FRAMES = 1  # next-sharpest frames a window may search for each pick it can hold
SET_KINDS = ("video", "folder")  # inputs whose faces come in sets to rank (a single image has none)


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
    seconds = getattr(source, "seconds", lambda: None)()
    if source.kind == "video":
        result.frames_total = source.frame_count
        length = source.frame_count / source.fps if source.frame_count else None
        if length and options.start >= length:
            raise InputError(source.path, f"--start {options.start:g} is past the video's end ({length:.1f} s)")
    window = options.window_for(seconds)
    budget = window_budget(options.top, window, min_gap)
    with _decoded_windows(source, options, window, budget) as (reader, windows):  # decoding starts while models load
        if options.scorer == "auto" and source.kind in SET_KINDS:  # sets to rank: the recogniser first
            recognizer_soon(options.model_pack)
        models = models_for(options)
        picker = make_picker(options, models, source.kind, min_gap, rereadable=os.path.isfile(source.path))
        # only the pre-screened video path can lose a pick to the gap (every other path analyses every frame)
        fills_gaps = source.kind == "video" and options.prescreen
        job = Job(source.path, options, models, picker, result, budget, PickableWindows(needed=fills_gaps))
        planned, seen = source.planned_frames(), 0
        ranks_sets = picker.ranker.set_aware and source.kind in SET_KINDS
        with RankAhead(picker.likely, *picker.ranker.measures, enabled=ranks_sets) as ahead:
            for window in windows:
                job.analyse(window)
                ahead.poke()
                seen += window.looked_at
                if progress:
                    progress(seen, planned)
    result.frames_decoded = getattr(reader, "decoded", seen)  # videos: the grabbed-only frames count too
    if fills_gaps:
        picker.fill_gaps(job)
        result.timeline.sort(key=lambda entry: entry[0])  # the report draws it as a line
    result.warnings.extend(reader.warnings)
    if result.faces_seen == 0:
        raise NoFaceError(source.path)
    selection = picker.finish(job if fills_gaps else None)
    job.restore_frames([c.payload for group in selection.groups for c in group])
    finish_selection(selection, options, models, result)
    if not result.picks:
        raise NoFaceError(source.path, f"no face reached --min-quality {options.min_quality}")
    if not options.per_person and len(result.picks) < options.top:
        result.notes.append(shortfall(result, options, min_gap, seconds))


def shortfall(result: InputResult, options: Options, min_gap: float, seconds: float | None) -> str:
    """Why an input gave fewer picks than --top."""
    got = f"{len(result.picks)} of {options.top} picks"
    if result.faces_seen < options.top:
        return f"{got}: only {result.faces_seen} face{'s' * (result.faces_seen != 1)} found"
    if options.min_quality > 0:
        return f"{got}: no more faces reached --min-quality {options.min_quality:g}"
    if min_gap > 0 and seconds:
        spacing = f"; --keyframes reads at most {2 / (options.window or 1.0):g} keyframes a second" if options.keyframes else ""
        return f"{got}: picks are --min-gap {min_gap:g} s apart, and the video is {seconds:.1f} s long{spacing}"
    return f"{got}: no more faces could be picked"


def make_picker(options: Options, models: ModelBundle, kind: str, min_gap: float, rereadable: bool = False) -> Picker:
    """The picker for this input: each person's best (--per-person), or the input's best, each face
    ranked within its set (a video's persons, a folder's faces) where the network's card says how to
    combine it with agreement; single images and --scorer NAME rank by the network alone. A `rereadable`
    input (a file) can decode a pick's frame again, so the frames over the budget are dropped."""
    calibration = set_calibration(options, models)
    top, quality = options.top, options.min_quality
    if options.per_person:
        gallery = models.gallery(options.gallery, options.match_threshold) if options.gallery else None
        tracker = PersonTracker(top, min_gap, quality, models.recognizer)
        return PersonPicker(top, min_gap, quality, tracker, set_ranker(options, models, calibration, tracker.embed, min_gap),
                            gallery)
    if calibration is not None and kind == "video":
        # frames over the budget are dropped, not encoded: of the k picks, those whose frames went are decoded again
        tracker = PersonTracker(top, min_gap, quality, models.recognizer_soon(), drop_frames=rereadable)
        return TopKPicker(top, min_gap, quality, TrackedSets(tracker), set_ranker(options, models, calibration, tracker.embed, min_gap))
    if calibration is not None and kind == "folder":
        return TopKPicker(top, min_gap, quality, OneSet(top), set_ranker(options, models, calibration, Embedder(models.recognizer_soon())))
    return TopKPicker(top, min_gap, quality, OneSet(top, min_gap), set_ranker(options, models, min_gap=min_gap))


def set_ranker(options: Options, models: ModelBundle, calibration: SetCalibration | None = None, embed=None,
               min_gap: float = 0.0) -> SetRanker:
    """The ranking of each set under the options' --eyes and --mouth."""
    return SetRanker(options.eyes, calibration, embed, min_gap, models.parts, options.mouth)


def set_calibration(options: Options, models: ModelBundle) -> SetCalibration | None:
    """How the default network combines with agreement (its card's `set_calibration`); None where the
    network ranks alone (`--scorer NAME`, or a network without one)."""
    return SetCalibration.from_card(getattr(models.scorer, "card", None)) if options.scorer == "auto" else None


def window_budget(top: int, window: float, min_gap: float) -> int:
    """Detector runs a pre-screened window may take: its sharpest frame, and REFINE_FRAMES more for each
    pick it can hold (at most `--top`, `min_gap` apart; all k without a gap)."""
    picks_per_window = top if min_gap <= 0 else min(top, math.ceil(window / min_gap))
    return 1 + REFINE_FRAMES * picks_per_window


@contextmanager
def _decoded_windows(source: InputSource, options: Options, window: float,
                     budget: int) -> Iterator[tuple[object, Iterator[Window]]]:
    """The reader and the windows to analyse, decoded on background threads. A pre-screened video is
    split into chunks that decode in parallel, pre-screened on their decoders' threads, where it can be
    (`decode.chunks`); else one reader decodes ahead and the pre-screen runs on the analysis thread, so
    the decoder's thread only decodes."""
    prescreened = source.kind == "video" and options.prescreen
    chunked = split_video(source, budget / window) if prescreened else None
    origin = options.sampling.start  # the windows' grid, the same for every chunk
    if chunked is not None:
        with chunked:
            parts = chunked.reduced(partial(sharpest_per_window, window=window, keep=budget, origin=origin),
                                    frames_of=lambda window: window.frames)
            yield chunked, joined(parts, budget)
        return
    with read_ahead(source) as decoded:
        yield source, sharpest_per_window(decoded, window, budget, origin) if prescreened else every_frame(decoded)


@dataclass
class PickableWindows:
    """The windows whose analysed frames held a face good enough to be picked (--min-quality), and every
    frame analysed: what filling the gaps needs. Where no pick can be lost (`needed` False, or `forget`
    once the picks are sure), nothing is kept, so a long video's memory stays flat."""

    needed: bool = True
    spans: list[tuple[float, float]] = field(default_factory=list)
    analysed: set[int] = field(default_factory=set)

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


@dataclass
class Job:
    """One input's analysis: windows of frames through the detector, their faces offered to the picker.
    It is also what the picker searches the gaps with (`choose.pickers.GapSearch`)."""

    path: str
    options: Options
    models: ModelBundle
    picker: Picker
    result: InputResult
    budget: int
    pickable: PickableWindows
    _counting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def analyse(self, window: Window) -> None:
        """The window's sharpest frame goes through the detector whole; while the picker finds a face of
        the last frame analysed worth it, the next-sharpest frame is searched near that face."""
        if self.picker.settled:
            self.pickable.forget()
        faces = self.whole(window.frames[0])
        self.pickable.note(window, window.frames[0], faces, self.options.min_quality)
        near = self._offer(faces)
        for frame in window.frames[1:]:
            if not near:
                return
            found = self.near(frame, near)
            self.pickable.note(window, frame, found, self.options.min_quality)
            near = self._offer(found, near)

    def _offer(self, faces: list[Candidate], near: list[Candidate] | None = None) -> list[Candidate]:
        self.result.faces_seen += len(faces)
        return self.picker.offer(faces, near)

    def whole(self, frame: Frame) -> list[Candidate]:
        """A frame through the detector whole (and onto the report's timeline)."""
        faces = analyse_frame(frame, self.models, self.options.min_face)
        self.result.frames_analysed += 1
        if self.result.kind == "video":  # the best face's quality of each frame analysed whole (None: no face)
            best = round(max(c.quality for c in faces), 4) if faces else None
            self.result.timeline.append((round(frame.time, 3), best))
        return faces

    def near(self, frame: Frame, faces: list[Candidate]) -> list[Candidate]:
        """A frame searched only near the faces of another frame of its window."""
        regions = np.array([c.payload.bbox for c in faces], np.float32)
        with self._counting:
            self.result.regions_analysed += len(regions)
        return analyse_frame(frame, self.models, self.options.min_face, regions)

    # What the picker searches the gaps with (choose.pickers.GapSearch).
    @property
    def spans(self) -> list[tuple[float, float]]:
        return self.pickable.spans

    def holding(self, times: list[float]) -> list[tuple[float, float]]:
        return self.pickable.holding(times)

    def windows(self, stretches: list[tuple[float, float]], keep: int | None = None,
                every_frame: bool = False) -> Iterator[Window]:
        """Each stretch of the video decoded again as one window of its `keep` sharpest frames not analysed
        yet (`every_frame`: the non-reference frames the pre-screen leaves out decoded too). A file that
        fails now only ends them: the picks it gave stand."""
        analysed = self.pickable.analysed
        prescreen = self.options.sampling.prescreen and not every_frame
        for start, end in stretches:
            sampling = replace(self.options.sampling, start=max(0.0, start - FRAME_TIME_SLACK), end=end + FRAME_TIME_SLACK,
                               prescreen=prescreen)
            try:
                with open_input(self.path, sampling) as source:
                    frames = (f for f in source.frames() if f.index not in analysed)
                    yield from sharpest_per_window(frames, math.inf, keep or self.budget)
            except (InputError, OSError):
                return

    def restore_frames(self, picks: list[Pick]) -> None:
        """The frames of the picks that the frame budget dropped, decoded again from the file (each on a
        thread of its own: decoding has ended, the cores are free)."""
        lost = [pick for pick in picks if pick.image is None and pick.frame_jpeg is None and pick.patch is not None]
        if not lost:
            return
        with ThreadPoolExecutor(len(lost), thread_name_prefix="fqselect-frames") as threads:
            for pick, image in zip(lost, threads.map(self.frame_again, lost)):
                if image is None:
                    raise InputError(self.path, f"frame {pick.frame} of a pick could not be decoded again")
                pick.image = image

    def frame_again(self, pick: Pick) -> np.ndarray | None:
        """The pick's frame decoded again: the frame at its time, decoded from the keyframe before it (every
        frame there: --every, --fps or --keyframes must not skip it)."""
        sampling = Sampling(start=max(0.0, pick.time - FRAME_SEARCH), end=pick.time + FRAME_SEARCH)
        try:
            with open_input(self.path, sampling) as source:
                frames = [(abs(frame.time - pick.time), frame.index != pick.frame, frame.image) for frame in source.frames()]
        except (InputError, OSError):
            return None
        return min(frames, key=lambda entry: entry[:2])[2] if frames else None

    def search_near(self, frame: Frame, faces: list[Candidate]) -> list[Candidate]:
        """`near`, counted (pickers may search on several threads at once)."""
        found = self.near(frame, faces)
        with self._counting:
            self.result.faces_seen += len(found)
        return found


def analyse_frame(frame: Frame, models: ModelBundle, min_face: int = 0, regions: np.ndarray | None = None) -> list[Candidate]:
    """The frame's faces (or those in `regions`) as candidates, their merit the network's log-odds
    (`choose.ranking.stream_merit`)."""
    faces = detect_and_align(frame.image, models.detector, min_face, regions)
    if not len(faces):
        return []
    qualities = models.scorer.score(faces)
    return [
        Candidate(
            stream_merit(qualities[i]),
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
                net_quality=round(float(qualities[i]), 4),
                image=frame.image,
                crop=faces.crops[i].copy(),  # not a view: a face held long would hold its frame's every crop
                captured_at=frame.captured_at,
            ),
        )
        for i in range(len(faces))
    ]


def finish_selection(selection: Selection, options: Options, models: ModelBundle, result: InputResult) -> None:
    """The selection's picks into `result`, ranked within their group and named by their scorer, each with
    its eyes and mouth read (here under --eyes any --mouth any, where only the picks need them), and with
    --embeddings their embeddings and each group's quality-weighted template."""
    result.persons, result.faces_embedded = selection.persons, result.faces_embedded + selection.embedded
    for number, group in enumerate(selection.groups):
        picks = [candidate.payload for candidate in group]
        for rank, pick in enumerate(picks, start=1):
            pick.rank, pick.scorer, pick.scorer_version = rank, models.scorer.name, models.scorer.version
            pick.image = pick.frame_image()  # a frame held compressed, decoded again for the API's users
        read_parts(group, models.parts)
        if options.embeddings and picks:
            template = _template(picks, models, result)
            if selection.persons:
                selection.persons[number].embedding = template
            else:
                result.embedding = template
        result.picks.extend(picks)


def _template(picks: list[Pick], models: ModelBundle, result: InputResult) -> np.ndarray:
    """The picks' embeddings (those the tracker has not made yet) and their quality-weighted mean."""
    missing = [pick for pick in picks if pick.embedding is None]
    if missing:
        for pick, embedding in zip(missing, models.recognizer.embed(np.stack([p.crop for p in missing]))):
            pick.embedding = embedding
        result.faces_embedded += len(missing)
    return quality_weighted_mean(np.stack([p.embedding for p in picks]), np.array([p.quality for p in picks]))
