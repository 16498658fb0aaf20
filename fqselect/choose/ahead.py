"""Ranking ahead: while an input streams, the faces its final ranking will most likely need are embedded
and their eyes read on a thread that runs on idle cycles only, so that the ranking at the end finds most
of its work done.

On two cores the stream leaves much of one idle: the detector's session takes a core, the decoder the
other, and a small frame decodes in a fraction of its time. Linux's SCHED_IDLE policy gives this thread
only the cycles no other thread wants, so the stream runs as fast as without it; the ranking's sessions
run one thread each (`cores.across_cores`), so their work stays on this thread and at its priority. Where
the OS has no such policy nothing runs ahead, and all of the ranking's work is done at the end, as it
would be anyway (docs/sets.md).

The picker says which faces are likely (`Picker.likely`, best first). The list is asked for on the
streaming thread, whenever the worker has finished the last one, so the worker never reads what the
stream is changing; a face it measured that the ranking does not need costs idle cycles only.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..cores import idle_priority
from .topk import Candidate


class RankAhead:
    """Measures `likely()`'s faces with each of `measures` in turn (each measure of every face before the
    next measure of any) on an idle-priority thread while the input streams. `poke()` after each analysed
    window; `stop()` before the ranking (it waits for the face in hand)."""

    def __init__(self, likely: Callable[[], list[Candidate]], *measures: Callable[[list[Candidate]], object], enabled: bool = True):
        self.likely, self.measures = likely, measures
        self._wanted: list[Candidate] = []
        self._hungry, self._fed = threading.Event(), threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="fqselect-ahead", daemon=True) if enabled else None
        if self._thread is not None:
            self._thread.start()

    def poke(self) -> None:
        """A fresh list for the worker, if it has finished the last (asked for here, on the stream's thread)."""
        if self._hungry.is_set():
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
            for measure in self.measures:
                for candidate in self._wanted:
                    if self._stopping:
                        return
                    measure([candidate])  # one at a time: stopping waits for one face at most
            if self._stopping:
                return
