"""Ranking ahead: while an input streams, the faces its final ranking will most likely need are embedded
and their parts read on a thread that runs on idle cycles only, so that the ranking at the end finds most
of its work done.

On two cores the stream leaves much of one idle: the detector's session takes a core, the decoder the
other, and a small frame decodes in a fraction of its time. Linux's SCHED_IDLE policy gives this thread
only the cycles no other thread wants, so the stream runs as fast as without it; the ranking's sessions
run one thread each (`cores.across_cores`), so their work stays on this thread and at its priority. Where
the OS has no such policy nothing runs ahead, and all of the ranking's work is done at the end, as it
would be anyway (docs/sets.md).

The picker says which faces are likely (`Picker.likely`, best first). The list is asked for on the
streaming thread (whenever the worker has finished the last one, and every FRESH_WINDOWS windows), so the
worker never reads what the stream is changing; a face it measured that the ranking does not need costs
idle cycles only. Every likely face is embedded before any face's parts are read: the ranking needs the
embeddings of its whole shortlist, and the parts of few faces (`SetRanker.settle_parts`).
"""

from __future__ import annotations

import threading
from typing import Callable

from ..cores import idle_priority
from .topk import Candidate

FRESH_WINDOWS = 4  # windows after which the worker gets a fresh list, finished with the last or not


class RankAhead:
    """Measures `likely()`'s faces with each of `measures` in turn (each measure of every face before the
    next measure of any) on an idle-priority thread while the input streams. `poke()` after each analysed
    window; `stop()` before the ranking (it waits for the face in hand). The list is asked for again when
    the worker has finished it, and every FRESH_WINDOWS windows while it has not: the best faces change as
    the input streams, and a face measured already costs the worker nothing."""

    def __init__(self, likely: Callable[[], list[Candidate]], *measures: Callable[[list[Candidate]], object], enabled: bool = True):
        self.likely, self.measures = likely, measures
        self._wanted: list[Candidate] = []
        self._since = 0  # windows since the list was asked for
        self._hungry, self._fed = threading.Event(), threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="fqselect-ahead", daemon=True) if enabled else None
        if self._thread is not None:
            self._thread.start()

    def poke(self) -> None:
        """A fresh list for the worker, if it has finished the last or FRESH_WINDOWS windows have passed
        (asked for here, on the stream's thread)."""
        self._since += 1
        if self._hungry.is_set() or self._since >= FRESH_WINDOWS:
            self._since = 0
            self._hungry.clear()
            self._wanted = self.likely()
            self._fed.set()

    def stop(self) -> None:
        self._stopping = True
        self._fed.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "RankAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _work(self) -> None:
        if not idle_priority():
            return
        try:
            self._measure_while_fed()
        except Exception:  # what failed here (a recogniser that cannot load) fails again at the end, reported there
            return

    def _measure_while_fed(self) -> None:
        while True:
            self._hungry.set()
            self._fed.wait()
            self._fed.clear()
            wanted = self._wanted
            for measure, candidate in [(measure, c) for measure in self.measures for c in wanted]:
                if self._stopping:
                    return
                if self._fed.is_set():  # a fresher list
                    break
                measure([candidate])  # one at a time: stopping waits for one face at most
            if self._stopping:
                return
