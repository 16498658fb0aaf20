"""The live job: the best shot of every person who passes a camera, from a stream that never ends.

Frames come from a `decode.stream.StreamReader` as the stream delivers them; the sharpest of each
LIVE_WINDOW goes to the detector, its faces are linked into persons by the tracker `--per-person` uses, and
a person the analysed frames have not shown for --leave seconds is final: their faces are ranked as any
set is (network, agreement, eyes) and their top-k emitted at once, as JSON records (`emit`) and, with
--out, as a folder per person under `OUT/<stream>/<day>/`, written atomically. When the stream drops,
everyone being tracked is emitted; on stop (--duration, SIGINT, SIGTERM) too. An emitted person is
forgotten, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..choose.persons import PersonTracker, Track
from ..choose.pickers import Selection, mark_person, pick_within
from ..choose.ranking import SetRanker
from ..decode.frame import Frame
from ..decode.prescreen import frame_sharpness
from ..decode.stream import Gap, StreamReader, stream_folder_name
from ..options import LiveOptions, Options
from ..output.write import write_result
from ..records import InputResult
from .bundle import models_for
from .job import analyse_frame, finish_selection, set_calibration, set_ranker

LIVE_WINDOW = 0.5  # seconds of stream whose sharpest frame is analysed (--window overrides): keeps the
# delay from a person leaving to their record near --leave (docs/live.md)

PLACE_WINDOWS = 2  # analysed windows a person may go unseen and still be linked by where their face was

Emit = Callable[[dict], None]


@dataclass
class LiveCounts:
    analysed: int = 0  # frames through the detector
    persons: int = 0  # persons emitted final
    lag: float = 0.0  # seconds between a frame arriving and its analysis, at the last analysis
    decoded: int = 0  # frames the stream delivered (none: it never answered, an input failure)


class Watcher:
    """One stream watched: windows of frames through the detector, persons tracked and emitted."""

    def __init__(self, source: str, options: Options, live: LiveOptions, out: Path | None, emit: Emit,
                 log: Callable[[str], None], stop: threading.Event):
        self.options, self.live, self.emit, self.log, self.stop = options, live, emit, log, stop
        self.models = models_for(options)
        self.gallery = self.models.gallery(options.gallery, options.match_threshold) if options.gallery else None
        self.reader = StreamReader(source, live.transport, live.timeout, live.follow, log)
        self.name = self.reader.name
        self.window = options.window or LIVE_WINDOW
        self.tracker = PersonTracker(options.top, options.min_gap, options.min_quality, self.models.recognizer,
                                     timeout=live.leave, place_gap=min(live.leave, PLACE_WINDOWS * self.window))
        self.ranker = set_ranker(options, self.models, set_calibration(options, self.models), self.tracker.embed,
                                 options.min_gap)
        self.out = out / stream_folder_name(source) if out is not None else None
        self.numbers = itertools.count()
        self.person_numbers: dict[int, int] = {}  # id(track) -> the person's number on this stream
        self.counts = LiveCounts()

    def run(self) -> LiveCounts:
        """Watch until the stream ends (a followed file stops growing), --duration passes or `stop` is set."""
        started = last_status = last_running = time.monotonic()
        best: tuple[float, Frame] | None = None  # the sharpest frame so far of the window being filled
        self.reader.start()
        try:
            for item in self.reader.frames():
                now = time.monotonic()
                if self.stop.is_set() or (self.live.duration and now - started >= self.live.duration):
                    break
                if isinstance(item, Gap):
                    best = None
                    self._emit_all()
                elif item is not None:
                    if best is not None and int(item.time // self.window) != int(best[1].time // self.window):
                        self._analyse(best[1])
                        best = None
                    sharpness = frame_sharpness(item.luma)
                    if best is None or sharpness > best[0]:
                        best = (sharpness, item)
                if self.live.emit_every and now - last_running >= self.live.emit_every:
                    last_running = now
                    for track in self.tracker.active:
                        self._emit(track, final=False)
                if now - last_status >= self.live.status_every:
                    last_status = now
                    self.log(self.status())
        finally:
            self.reader.stop()
            self._emit_all()
            self.reader.join(5.0)
            self.log(self.status())
        self.counts.decoded = self.reader.stats.decoded
        return self.counts

    def status(self) -> str:
        s = self.reader.stats
        return (f"{self.name}: {s.received} packets received, {s.decoded} frames decoded, {s.dropped} dropped, "
                f"{self.counts.analysed} analysed, lag {self.counts.lag:.1f} s; {len(self.tracker.active)} in view, "
                f"{self.counts.persons} emitted, {s.reconnects} reconnects")

    def _analyse(self, frame: Frame) -> None:
        """The frame through the detector; its faces join the persons in view; whoever it (and the frames
        before it) have not shown for --leave seconds is emitted."""
        self.counts.lag = max(0.0, self.reader.now() - frame.time)
        faces = analyse_frame(frame, self.models, self.options.min_face)
        self.counts.analysed += 1
        if faces:
            self.tracker.update(faces)
        ended = self.tracker.finished + self.tracker.expire(frame.time)
        self.tracker.finished = []
        for track in ended:
            self._emit(track, final=True)

    def _emit_all(self) -> None:
        ended = self.tracker.active + self.tracker.finished
        self.tracker.active, self.tracker.finished = [], []
        for track in ended:
            self._emit(track, final=True)

    def _emit(self, track: Track, final: bool) -> None:
        """A person's top-k, ranked within their own faces: written (when final) and emitted; a final
        person is then forgotten."""
        if id(track) not in self.person_numbers:
            self.person_numbers[id(track)] = next(self.numbers)
        number = self.person_numbers.pop(id(track)) if final else self.person_numbers[id(track)]
        if not track.selector.picks():
            return
        person = self.tracker.person_of([track])
        person.id = number
        if not final:  # ranking rewrites merits and pick fields: a person still in view keeps their own
            person.candidates = [replace(c, payload=replace(c.payload)) for c in person.candidates]
        if self.gallery is not None:
            person.identity, person.similarity = self.gallery.label(person.template)
        pick_within(person, self.ranker, self.options.top, self.options.min_gap, self.options.min_quality)
        if not person.picks:
            return
        mark_person(person)
        result = InputResult(input=self.name, kind="stream")
        finish_selection(Selection([person.picks], [person]), self.options, self.models, result)
        if self.out is not None and final:
            self._write(result, person.id)
        for pick in result.picks:
            self.emit({**pick.record(), "stream": self.name, "final": final,
                       "first_seen": round(person.first_time, 3), "last_seen": round(person.last_time, 3)})
        self.counts.persons += final

    def _write(self, result: InputResult, number: int) -> None:
        """The person's folder, `OUT/<stream>/<day>/p<number>_<time>` (the day and time of their first pick)."""
        captured = result.picks[0].captured_at  # ISO 8601: 2026-12-07T05:24:43.609+00:00
        folder = self.out / captured[:10] / f"p{number:05d}_{captured[11:19].replace(':', '')}"
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            write_result(result, self.options, folder, overwrite=True)
        except OSError as error:
            self.log(f"error: {self.name}: cannot write person {number} into {folder} ({error.strerror or error})")


def watch(source: str, options: Options, live: LiveOptions, out: Path | None, emit: Emit,
          log: Callable[[str], None], stop: threading.Event) -> LiveCounts:
    """Watch one live source until it ends, --duration passes or `stop` is set."""
    return Watcher(source, options, live, out, emit, log, stop).run()
