"""What keeps set-aware selection cheap: sets whose faces cannot reach the picks are never embedded, the
likely faces are measured ahead on idle cycles, held frames beyond a memory budget are kept compressed,
and a search near a keyframe does not decode the group of pictures before it."""

from __future__ import annotations

import functools
import math
import os
import threading
import time

import av
import cv2
import numpy as np
import pytest

from fqselect.api import select
from fqselect.choose import ahead, persons
from fqselect.choose.ahead import RankAhead
from fqselect.choose.persons import PersonTracker, compress_weakest
from fqselect.choose.pickers import TopKPicker
from fqselect.choose.ranking import Embedder, SetRanker, read_parts, stream_merit
from fqselect.choose.topk import Candidate
from fqselect.decode import Sampling, open_input
from fqselect.faces import detect_and_align
from fqselect.options import Options
from fqselect.output.write import write_result
from fqselect.quality.agreement import SetCalibration
from fqselect.quality.parts import PartReadings
from fqselect.records import InputResult, Pick
from fqselect.run import job
from fqselect.run.bundle import models_for

CALIBRATION = SetCalibration(0.1175, 18.614, -8.478)


class PeopleRecognizer:
    """Embeds a crop as its person (the crop's first pixel) plus a little of its own (the second)."""

    points = {"match": 0.38}

    def embed(self, crops: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(0)
        people = rng.normal(size=(256, 128))
        own = np.random.default_rng(1).normal(size=(256, 128))
        vectors = people[crops[:, 0, 0, 0]] + 0.3 * own[crops[:, 0, 0, 1]]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def face(person: int, number: int, net: float, time: float) -> Candidate:
    crop = np.zeros((112, 112, 3), np.uint8)
    crop[0, 0, :2] = person, number
    pick = Pick(source="clip", frame=int(time * 25), time=time, bbox=[0, 0, 10, 10], landmarks=[[0, 0]] * 5,
                det_score=1.0, quality=net, net_quality=net, crop=crop)
    return Candidate(stream_merit(net), time, int(time * 25) * 1000 + person, payload=pick, quality=net)


class Parts:
    """Sets given as they are: part i is set i."""

    def __init__(self, parts: list[list[Candidate]]):
        self._parts = parts

    def parts(self) -> list[list[Candidate]]:
        return self._parts

    def join(self, part: int) -> int:
        return part


class Unbounded(SetRanker):
    reach = math.inf  # every set ranked, whatever its best face


def test_a_set_whose_best_face_cannot_reach_the_picks_is_never_embedded():
    def people():
        return [[face(person, i, net - 0.0001 * i, 2.0 * i + offset) for i in range(6)]
                for person, net, offset in ((1, 0.999, 0.0), (2, 0.998, 1.0), (3, 1e-4, 0.5))]  # 3: log-odds -9

    sharp, good, blurred = people()
    picks = TopKPicker(3, 1.0, 0.0, Parts([sharp, good, blurred]),
                       SetRanker("any", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0)).finish().groups[0]
    assert len(picks) == 3 and all(p.payload.agreement is not None for p in picks)
    assert all(c.payload.embedding is None for c in blurred)
    assert all(c.payload.embedding is not None for c in sharp + good)
    everyone = people()
    unbounded = TopKPicker(3, 1.0, 0.0, Parts(everyone), Unbounded("any", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0))
    assert [p.time for p in unbounded.finish().groups[0]] == [p.time for p in picks]
    assert all(c.payload.embedding is not None for c in everyone[2])


def test_a_set_that_grows_is_ranked_again_from_its_streaming_merits():
    first = [face(1, i, 0.999, 2.0 * i) for i in range(4)]
    later = [face(1, 10 + i, 0.999, 20.0 + 2.0 * i) for i in range(4)]

    class OnePerson(Parts):
        def join(self, part: int) -> int:
            return 0

    ranker = SetRanker("any", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0)
    picks = TopKPicker(3, 1.0, 0.0, OnePerson([first, later]), ranker).finish().groups[0]
    assert {p.payload.set_faces for p in picks} == {8}  # every face ranked within the whole person


class ListedEyes:
    """Reads each face's eyes as listed by its number (the crop's second pixel), counting the faces read."""

    def __init__(self, openness: dict[int, float]):
        self.openness, self.read_faces = openness, []

    def read(self, faces) -> PartReadings:
        numbers = [int(n) for n in faces.crops[:, 0, 0, 1]]
        self.read_faces += numbers
        return PartReadings(np.array([self.openness[n] for n in numbers], np.float32), np.zeros(len(numbers), np.float32), None)


def test_eyes_are_read_only_where_the_choice_reaches_and_pick_as_if_all_were_read():
    """The best faces by network and agreement have shut eyes: they are read and fall, the faces after them
    are read in turn, and the picks are those of reading every face's eyes first."""
    openness = {i: (0.05 if i in (0, 1, 3) else 0.95) for i in range(12)}

    def picks(eyes: ListedEyes, read_first: bool):
        faces = [face(1, i, 0.999 - 0.0003 * i, 2.0 * i) for i in range(12)]
        for candidate in faces:
            candidate.payload.image = np.zeros((20, 20, 3), np.uint8)
        if read_first:
            read_parts(faces, eyes)
        ranker = SetRanker("open", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0, parts=eyes)
        return TopKPicker(3, 1.0, 0.0, Parts([faces]), ranker).finish().groups[0]

    lazy, eager = ListedEyes(openness), ListedEyes(openness)
    lazy_picks, eager_picks = picks(lazy, False), picks(eager, True)
    assert [p.payload.record() for p in lazy_picks] == [p.payload.record() for p in eager_picks]
    assert all(p.payload.eyes_open > 0.9 for p in lazy_picks)
    assert set(lazy.read_faces) >= {0, 1, 3} and len(lazy.read_faces) < len(eager.read_faces) == 12


class SmallShortlist(SetRanker):
    def shortlist_size(self, sets: int, k: int) -> int:
        return 3


def test_a_pick_from_outside_the_shortlist_is_ranked_beside_its_set_not_by_the_network_alone():
    """The shortlist (0.0, 1.0, 0.5 s) crowds around the first pick: 0.5 s wins once the eyes are read
    and blocks the other two, so the second pick comes from the faces the shortlist left out. Ranked by
    the network alone that was the shut-eyed face at 3.0 s; ranked beside the set it is the one at 4.0 s."""
    nets = {0: (0.9995, 0.0, 0.05), 1: (0.999, 1.0, 0.05), 2: (0.9985, 0.5, 0.95), 3: (0.998, 3.0, 0.05), 4: (0.99, 4.0, 0.95)}
    faces = [face(1, number, net, time) for number, (net, time, _) in nets.items()]
    for candidate in faces:
        candidate.payload.image = np.zeros((20, 20, 3), np.uint8)
    eyes = ListedEyes({number: openness for number, (*_, openness) in nets.items()})
    ranker = SmallShortlist("open", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0, parts=eyes)
    picks = TopKPicker(2, 1.0, 0.0, Parts([faces]), ranker).finish().groups[0]
    assert [p.time for p in picks] == [0.5, 4.0]
    assert picks[1].payload.agreement is not None and picks[1].payload.eyes_open > 0.9
    assert faces[3].payload.eyes_open < 0.1  # read, and passed over
    held = [c.ranked_in[0] for c in faces if c.ranked_in is not None]
    assert held and all(s.unsettled is None and not s.outside for s in held)  # no faces held once chosen


def test_a_ranked_set_the_choice_never_reaches_has_no_eyes_read():
    """Both people's sets are ranked, but the first's faces outrank every face of the second: whether the
    second's eyes can rank it is never asked, so none of its faces is read."""
    first = [face(1, i, 0.999, 2.0 * i) for i in range(6)]
    second = [face(2, 10 + i, 0.99, 2.0 * i + 1.0) for i in range(6)]
    for candidate in first + second:
        candidate.payload.image = np.zeros((20, 20, 3), np.uint8)
    eyes = ListedEyes({i: 0.95 for i in [*range(6), *range(10, 16)]})
    ranker = Unbounded("open", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0, parts=eyes)
    picks = TopKPicker(3, 1.0, 0.0, Parts([first, second]), ranker).finish().groups[0]
    assert all(c.payload.agreement is not None for c in second)  # ranked
    assert {p.payload.frame for p in picks} <= {c.payload.frame for c in first}
    assert eyes.read_faces and all(number < 10 for number in eyes.read_faces)


def test_faces_found_near_a_ranked_face_are_measured_only_where_they_could_beat_it():
    """The polish's found faces: one the agreement cannot lift above the ranked face is neither embedded
    nor read; one that beats it is judged in its place, its eyes read."""
    faces = [face(1, i, 0.999, 2.0 * i) for i in range(6)]
    weak, strong = face(1, 20, 0.9, 0.04), face(1, 21, 0.9995, 0.04)
    for candidate in faces + [weak, strong]:
        candidate.payload.image = np.zeros((20, 20, 3), np.uint8)
    eyes = ListedEyes({i: 0.95 for i in [*range(6), 20, 21]})
    ranker = SetRanker("open", CALIBRATION, Embedder(PeopleRecognizer()), min_gap=1.0, parts=eyes)
    best = ranker.rank(faces, 6, 3)[0]
    ranker.settle_parts(lambda: [best])
    assert ranker.judge_in_place_of([weak, strong], best) == [strong]
    assert weak.payload.embedding is None and 20 not in eyes.read_faces
    assert strong.payload.agreement is not None and 21 in eyes.read_faces and strong.merit > best.merit


@pytest.fixture(scope="module")
def found_face(face_photo):
    image = cv2.imread(str(face_photo))
    faces = detect_and_align(image, models_for(Options()).detector)
    i = int(np.argmax(faces.det_scores))

    def pick() -> Pick:
        return Pick(source=str(face_photo), frame=0, time=0.0, bbox=faces.boxes[i].tolist(),
                    landmarks=faces.landmarks[i].tolist(), det_score=1.0, quality=0.9, image=image,
                    crop=faces.crops[i])
    return pick


def test_held_frames_over_the_budget_are_compressed_weakest_first(found_face):
    faces = [Candidate(float(merit), float(merit), merit, payload=found_face()) for merit in range(4)]
    for candidate in faces:
        candidate.payload.image = candidate.payload.image.copy()  # four frames
    size = faces[0].payload.image.nbytes
    compress_weakest(faces, 2 * size)
    assert [c.payload.image is None for c in faces] == [True, True, False, False]
    weak = faces[0].payload
    assert weak.frame_jpeg and weak.patch is not None and weak.patch.nbytes < size / 4
    assert weak.frame_image().shape == faces[3].payload.image.shape


def test_the_frame_budget_holds_over_tracks_that_end(found_face):
    """Faces of many people, one at a time, each track ended before the next face: after every frame the
    decoded frames held stay within the budget, the best faces' frames are the ones still decoded, and
    the sweep passes over the ended tracks whose frames are all compressed."""
    size = found_face().image.nbytes
    recognizer = PeopleRecognizer()
    recognizer.points = {"match": 0.38, "link": 0.5, "link_min": 0.2}
    tracker = PersonTracker(top=1, min_gap=0.0, min_quality=0.0, recognizer=recognizer, frame_budget=3 * size)
    swept = []
    compress = persons.compress_weakest
    for number in range(8):
        pick = found_face()
        pick.image, pick.crop = pick.image.copy(), pick.crop.copy()
        pick.crop[0, 0, :2] = number + 1, number  # person number + 1 (PeopleRecognizer reads the crop's pixel)
        pick.frame, pick.time = number, 10.0 * number
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(persons, "compress_weakest", lambda faces, budget, **kw: (swept.append(len(faces)), compress(faces, budget, **kw)))
            tracker.update([Candidate(0.1 * number, pick.time, number, payload=pick)])
        held = {id(c.payload.image): c.payload.image.nbytes for c in tracker.held() if c.payload.image is not None}
        assert sum(held.values()) <= 3 * size
    assert len(tracker.finished) == 7
    assert sorted({c.payload.frame for c in tracker.held() if c.payload.image is not None}) == [5, 6, 7]
    assert swept[-1] < len(tracker.held())  # the ended tracks held compressed are passed over


def test_a_compressed_face_reads_the_same_parts_and_writes_its_frame_as_held(found_face, tmp_path):
    parts = models_for(Options()).parts
    whole, held = Candidate(1.0, 0.0, 0, payload=found_face()), Candidate(1.0, 0.0, 1, payload=found_face())
    compress_weakest([held], 0)
    read_parts([whole, held], parts)
    assert held.payload.eyes_open == pytest.approx(whole.payload.eyes_open, abs=0.01)
    assert held.payload.gaze == pytest.approx(whole.payload.gaze, abs=0.01)
    assert held.payload.mouth_open == pytest.approx(whole.payload.mouth_open, abs=0.01)
    result = InputResult(input=held.payload.source, kind="image", picks=[held.payload])
    write_result(result, Options(), tmp_path / "out", overwrite=False)
    written = next((tmp_path / "out").glob("*_frame.jpg"))
    assert written.read_bytes() == held.payload.frame_jpeg


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory, make_example):
    path = tmp_path_factory.mktemp("seek") / "group.mp4"
    make_example.make_group_clip(path, (320, 180), 250, encoding="h264")
    return path


def test_a_pick_whose_frame_the_budget_dropped_gets_it_decoded_again_exactly(h264_clip, monkeypatch):
    """With no frame held (a budget of 0), the picks' frames are decoded again from the file (but the one
    the search of the first pick's moment found, decoded then): the same pixels and records as with every
    frame held."""
    def picks(budget):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(job, "PersonTracker", functools.partial(PersonTracker, frame_budget=budget))
            return select(str(h264_clip), top=3).picks

    decoded_again = []
    frame_again = job.Job.frame_again
    monkeypatch.setattr(job.Job, "frame_again", lambda self, pick: (decoded_again.append(pick.frame), frame_again(self, pick))[1])
    dropped, held = picks(0), picks(None)
    assert decoded_again and set(decoded_again) <= {p.frame for p in dropped} and len(dropped) == 3
    assert [p.record() for p in dropped] == [p.record() for p in held]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(dropped, held))


def keyframe_times(path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(p.pts * stream.time_base) for p in container.demux(stream) if p.is_keyframe and p.pts is not None]


def test_a_search_just_after_a_keyframe_decodes_from_that_keyframe(h264_clip):
    keyframe = next(t for t in keyframe_times(h264_clip) if t >= 1.0)
    start, end = keyframe + 0.2, keyframe + 0.5
    with open_input(str(h264_clip), Sampling(prescreen=False)) as whole:
        expected = [(f.index, f.time) for f in whole.frames() if start <= f.time <= end]
    with open_input(str(h264_clip), Sampling(start=start, end=end, prescreen=False)) as source:
        got = [(f.index, f.time) for f in source.frames()]
        decoded = source.decoded
    assert got == expected
    assert decoded <= round((end - keyframe) * 25) + 2  # not the second before it (the seek margin)


def idle_threads() -> bool:
    """Whether this OS lets a thread run on idle cycles only (checked on a throwaway thread)."""
    granted = []
    probe = threading.Thread(target=lambda: granted.append(ahead.idle_priority()))
    probe.start()
    probe.join()
    return granted[0]


@pytest.mark.skipif(not idle_threads(), reason="this OS gives no thread idle priority (Linux's SCHED_IDLE)")
def test_likely_faces_are_measured_ahead_on_a_thread_of_idle_priority():
    faces = [face(1, i, 0.99, float(i)) for i in range(5)]
    measured: list[tuple[int, int, int]] = []

    def measure(candidates):
        measured.extend((id(c), threading.get_ident(), os.sched_getscheduler(0)) for c in candidates)

    with RankAhead(lambda: faces[:3], measure) as worker:
        deadline = time.monotonic() + 10
        while len(measured) < 3 and time.monotonic() < deadline:
            worker.poke()  # the stream's thread hands a list over whenever the worker has finished the last
            time.sleep(0.01)
    assert {face_id for face_id, _, _ in measured} == {id(c) for c in faces[:3]}
    assert all(thread != threading.get_ident() and policy == os.SCHED_IDLE for _, thread, policy in measured)
    assert not worker._thread.is_alive()


@pytest.mark.skipif(not idle_threads(), reason="this OS gives no thread idle priority (Linux's SCHED_IDLE)")
def test_the_worker_takes_a_fresh_list_every_few_windows_while_it_has_not_finished_the_last():
    lists = [[face(1, i, 0.99, float(i)) for i in range(100)], [face(2, i, 0.99, float(i)) for i in range(3)]]
    measured, asked = [], []

    def likely():
        asked.append(len(asked))
        return lists[min(len(asked) - 1, 1)]

    def measure(candidates):
        measured.extend(candidates)
        time.sleep(0.01)

    with RankAhead(likely, measure) as worker:
        worker.poke()  # the first list: 100 faces, a second's work
        deadline = time.monotonic() + 10
        while not measured and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(ahead.FRESH_WINDOWS):
            worker.poke()
        while not all(any(c is m for m in measured) for c in lists[1]) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(asked) == 2 and all(any(c is m for m in measured) for c in lists[1])
    assert len(measured) < len(lists[0])  # the first list was left for the fresher one


def test_what_is_measured_ahead_leaves_the_picks_as_they_are(clip, monkeypatch):
    """The picks and every field of them are the same whether the worker measured any face or none."""
    path = str(clip[0])
    measured_ahead = []
    embed = Embedder.__call__

    def counted(embedder, candidates):
        if threading.current_thread().name == "fqselect-ahead":
            measured_ahead.extend(c for c in candidates if c.payload.embedding is None)
        return embed(embedder, candidates)

    monkeypatch.setattr(Embedder, "__call__", counted)
    ahead_picks = select(path, top=3).picks
    assert measured_ahead or not idle_threads()
    monkeypatch.setattr(ahead, "idle_priority", lambda: False)  # the worker quits at once: all done at the end
    end_picks = select(path, top=3).picks
    assert [p.record() for p in ahead_picks] == [p.record() for p in end_picks]


@pytest.mark.skipif(not idle_threads(), reason="this OS gives no thread idle priority (Linux's SCHED_IDLE)")
def test_a_failure_ahead_stops_the_worker_quietly(monkeypatch):
    """What fails ahead (a recogniser that cannot load) fails again at the end, where it is reported: the
    worker prints no traceback of its own."""
    uncaught, tried = [], threading.Event()
    monkeypatch.setattr(threading, "excepthook", uncaught.append)

    def measure(candidates):
        tried.set()
        raise RuntimeError("cannot load")

    with RankAhead(lambda: [face(1, 0, 0.99, 0.0)], measure) as worker:
        deadline = time.monotonic() + 10
        while not tried.is_set() and time.monotonic() < deadline:
            worker.poke()
            time.sleep(0.01)
    assert tried.is_set() and not uncaught and not worker._thread.is_alive()
