"""The fast default video path against the thorough one (--exhaustive), on a generated group clip."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from fqselect.decode import open_input
from fqselect.decode.opencv import OPENCV_PRESCREEN_FPS, OpenCVVideoInput
from fqselect.decode.pyav import VideoInput
from fqselect.decode.readahead import ReadAhead
from fqselect.run.job import process_input
from fqselect.options import Options
from fqselect.decode.prescreen import frame_sharpness, sharpest_per_window


@pytest.fixture(scope="module")
def group_clip(tmp_path_factory, make_example):
    """Six faces, 640×360, 100 frames at 25 fps, a camera shake (motion blur) every third second."""
    path = tmp_path_factory.mktemp("group") / "group.mp4"
    make_example.make_group_clip(path, (640, 360), 100)
    return path


def test_default_finds_a_face_as_good_as_exhaustive_with_a_fraction_of_the_detector_runs(group_clip):
    default = process_input(str(group_clip), Options(window=1.0))
    exhaustive = process_input(str(group_clip), Options(exhaustive=True))
    assert default.status == exhaustive.status == "ok"
    assert default.frames_decoded == exhaustive.frames_decoded == 100
    assert exhaustive.frames_analysed == 100
    assert default.frames_analysed <= 100 * 2 / 25  # ≤ 2 detector runs per 1-s window
    assert default.picks[0].quality >= 0.98 * exhaustive.picks[0].quality


def test_a_short_video_gets_shorter_windows_and_a_long_one_a_second():
    """The default --window: a second, shortened for a short video so that it has 40 windows (not under
    a quarter of a second); an explicit --window is kept."""
    assert Options().window_for(120.0) == 1.0 and Options().window_for(None) == 1.0
    assert Options().window_for(20.0) == 0.5 and Options().window_for(4.0) == 0.25
    assert Options(window=2.0).window_for(4.0) == 2.0


def test_default_never_picks_a_shaken_frame(group_clip):
    default = process_input(str(group_clip), Options(top=3))
    shaken = {i for i in range(100) if (i // 25) % 3 == 1}  # make_group_clip's blur bursts
    assert len(default.picks) == 3
    assert not {p.frame for p in default.picks} & shaken


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory, make_example):
    """The group scene as x264 encodes it by default: B-frames between reference frames."""
    path = tmp_path_factory.mktemp("h264") / "group.mp4"
    make_example.make_group_clip(path, (640, 360), 100, encoding="h264")
    return path


def test_prescreen_skips_non_reference_frames_and_converts_none(h264_clip):
    """For the pre-screen, the decoder leaves out non-reference (B-)frames; the frames it hands on keep
    their display-order index and timestamp, and none is converted to BGR until asked."""
    with open_input(str(h264_clip), Options().sampling) as source:
        assert isinstance(source, VideoInput)
        frames = list(source.frames())
    assert source.decoded == len(frames) and 20 <= len(frames) <= 80
    assert not any(f.converted for f in frames)  # luminance only so far
    assert all(f.time == pytest.approx(f.index / 25, abs=1e-3) for f in frames)
    with open_input(str(h264_clip), Options(exhaustive=True).sampling) as source:
        every = {f.index: f for f in source.frames()}
    assert sorted(every) == list(range(100))
    for frame in frames[::10]:  # the same frames, pixel for pixel, as decoding everything gives
        assert np.array_equal(frame.image, every[frame.index].image)
        assert np.array_equal(frame.luma, every[frame.index].luma)


def test_keyframes_decodes_keyframes_only(make_example, tmp_path):
    path = tmp_path / "camera.mp4"
    make_example.make_group_clip(path, (640, 360), 100, encoding="h264-camera")  # a keyframe a second
    with open_input(str(path), Options(keyframes=True).sampling) as source:
        assert [f.index for f in source.frames()] == [0, 25, 50, 75]
    # a longer window decodes at most two keyframes of it; indexes and times stay those of the file
    make_example.make_group_clip(path, (640, 360), 250, encoding="h264-camera")
    with open_input(str(path), Options(keyframes=True, window=4).sampling) as source:
        frames = list(source.frames())
    assert [f.index for f in frames] == [0, 50, 100, 150, 200]
    assert [f.time for f in frames] == pytest.approx([0, 2, 4, 6, 8])


def test_opencv_fallback_converts_a_few_frames_a_second(group_clip, monkeypatch):
    """Files PyAV cannot open go to OpenCV, whose frames must be converted to be judged: a few a second."""
    monkeypatch.setenv("FQSELECT_VIDEO_READER", "opencv")
    source = open_input(str(group_clip), Options().sampling)
    assert isinstance(source, OpenCVVideoInput)
    frames = list(source.frames())
    assert source.decoded == 100  # every frame grabbed ...
    assert len(frames) == pytest.approx(100 * OPENCV_PRESCREEN_FPS / 25, abs=1)  # ... few converted, evenly in time
    gaps = np.diff([f.time for f in frames])
    assert gaps.max() <= 1 / OPENCV_PRESCREEN_FPS + 1 / 25 + 1e-6 and gaps.min() >= 1 / 25 - 1e-6


def test_each_window_keeps_its_sharpest_frames_sharpest_first(group_clip):
    frames = list(open_input(str(group_clip), Options().sampling).frames())
    windows = list(sharpest_per_window(frames, 1.0, keep=2))
    assert len(windows) == 4 and sum(w.looked_at for w in windows) == len(frames)
    start = 0
    for window in windows:  # consecutive: each starts where the last ended, and spans under a second
        in_window = frames[start:start + window.looked_at]
        start += window.looked_at
        assert in_window[-1].time - in_window[0].time < 1.0
        best = sorted(in_window, key=lambda f: -frame_sharpness(f.luma))[:2]
        assert [f.index for f in window.frames] == [f.index for f in best]
    assert all(len(w.frames) == w.looked_at for w in sharpest_per_window(frames, 1.0, keep=None))


@pytest.mark.parametrize("width", [480, 1280])
def test_frame_sharpness_is_the_variance_of_the_thumbnails_laplacian(width):
    import cv2

    luma = cv2.GaussianBlur(np.random.default_rng(width).integers(0, 256, (width * 9 // 16, width), np.uint8), (0, 0), 1.5)
    step = max(1, width // 320)
    laplacian = cv2.Laplacian(luma[::step, ::step].copy(), cv2.CV_64F)
    assert frame_sharpness(luma) == pytest.approx(laplacian.var(), rel=1e-9)
    assert frame_sharpness(cv2.GaussianBlur(luma, (0, 0), 3.0)) < frame_sharpness(luma)


def test_exhaustive_and_explicit_sampling_convert_every_asked_frame(group_clip):
    assert len(list(open_input(str(group_clip), Options(exhaustive=True).sampling).frames())) == 100
    assert [f.index for f in open_input(str(group_clip), Options(every=10).sampling).frames()] == list(range(0, 100, 10))
    assert np.all(np.diff([f.time for f in open_input(str(group_clip), Options(fps=5).sampling).frames()]) > 0)


def test_reading_ahead_starts_at_once_and_stops_on_close(group_clip):
    """The decoder runs ahead while the caller still loads models, and leaves no thread behind."""
    with open_input(str(group_clip), Options(exhaustive=True).sampling) as source:
        with ReadAhead(source.frames(), size=4) as frames:
            deadline = time.monotonic() + 30
            while source.decoded < 5 and time.monotonic() < deadline:  # not iterated yet: it fills its queue
                time.sleep(0.01)
            time.sleep(0.5)  # and then blocks on it, decoding no further
            assert source.decoded == 5  # four frames queued, the fifth waiting for room
            assert next(iter(frames)).index == 0
        assert not frames._thread.is_alive()


def test_a_decoding_error_reaches_the_reader(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    with pytest.raises(Exception, match="broken.mp4|cannot open"):
        with open_input(str(broken)) as source, ReadAhead(source.frames(), size=2) as frames:
            list(frames)


def test_faces_are_found_again_near_their_boxes_as_the_whole_frame_finds_them(group_clip):
    from fqselect.faces.detect import _merged, detect_regions
    from fqselect.run.bundle import models_for

    detector = models_for(Options()).detector
    frames = list(open_input(str(group_clip), Options(every=25).sampling).frames())
    whole = detector.detect(frames[2].image)
    assert len(whole) >= 4  # frame 50: no blur burst
    again = detect_regions(detector, frames[2].image, whole.boxes)
    assert len(again) == len(whole)
    order = np.argsort(again.boxes[:, 0]), np.argsort(whole.boxes[:, 0])
    side = (whole.boxes[:, 2] - whole.boxes[:, 0]).mean()
    assert np.abs(again.landmarks[order[0]] - whole.landmarks[order[1]]).max() < 0.1 * side
    assert _merged([[0, 0, 10, 10], [20, 0, 30, 10], [5, 5, 25, 8]]) == [[0, 0, 30, 10]]


def test_a_face_cut_by_its_region_edge_is_left_out_unless_the_edge_is_the_frame_edge():
    from fqselect.faces.detect import detect_regions
    from fqselect.faces.batch import FaceBatch

    class TwoFaces:  # in whatever crop it is given: one face against its left edge, one well inside
        max_side = 640

        def detect(self, crop):
            boxes = np.array([[0, 10, 20, 30], [30, 10, 50, 30]], np.float32)
            return FaceBatch(boxes, np.ones(2, np.float32), np.zeros((2, 5, 2), np.float32))

    image = np.zeros((360, 640, 3), np.uint8)
    inner = detect_regions(TwoFaces(), image, np.array([[300, 100, 340, 140]], np.float32), margin=1.0)
    assert inner.boxes.tolist() == [[290.0, 70.0, 310.0, 90.0]]  # region from (260, 60): the first face is cut
    at_edge = detect_regions(TwoFaces(), image, np.array([[10, 100, 50, 140]], np.float32), margin=1.0)
    assert len(at_edge) == 2  # the region was clipped to the frame's left edge: nothing cut there


def test_asking_for_one_pick_still_finds_the_best_frame():
    """The bundled example's clean second: its sharpest frame scores well below its best, so the window
    must be refined even when a single pick is asked for (`--top 1` once picked a JPEG frame instead)."""
    example = Path(__file__).resolve().parent.parent / "examples"
    clean = next(s for s in json.loads((example / "example.json").read_text())["segments"] if s["segment"] == "clean")
    one = process_input(str(example / "example.mp4"), Options(top=1)).picks
    three = process_input(str(example / "example.mp4"), Options(top=3)).picks
    assert clean["first_frame"] <= one[0].frame <= clean["last_frame"]
    assert one[0].quality == three[0].quality


def test_a_short_clip_gets_as_many_picks_as_exhaustive(tmp_path, make_example):
    """A 2.6-s clip whose only sharp frame (1.4 s) is its best face and whose slightly soft frames lie
    mid-window (0.6 s, 2.2 s): the pick at 1.4 s blocks both windows' sharpest frames, yet frames of
    those windows lie a whole --min-gap away from it. The default path and --per-person once returned one
    pick where `--exhaustive` found three; the stretches left free are now searched."""
    import cv2

    scene = make_example.face_scene(make_example.sample_photo())
    soft, softer = cv2.GaussianBlur(scene, (0, 0), 1.6), cv2.GaussianBlur(scene, (0, 0), 3.0)
    path = tmp_path / "short.mp4"
    writer = make_example.EncodedWriter(path, "h264-camera", 25, make_example.FRAME_SIZE)
    for index in range(65):
        writer.write({35: scene, 15: soft, 55: soft}.get(index, softer))
    writer.release()
    default = process_input(str(path), Options(top=3))
    exhaustive = process_input(str(path), Options(top=3, exhaustive=True))
    assert len(exhaustive.picks) == 3
    assert len(default.picks) == 3
    times = sorted(p.time for p in default.picks)
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[1:]))
    assert default.frames_analysed < exhaustive.frames_analysed / 4
    per_person = process_input(str(path), Options(top=3, per_person=True))
    assert [len(p.picks) for p in per_person.persons] == [3]


def test_only_faces_that_could_still_be_picks_are_searched_again():
    """Of several people in one moment only the best can be that moment's pick (--min-gap), so the next
    frame is searched near it alone, unless another is within the refinement margin of it."""
    from fqselect.choose.pickers import OneSet, TopKPicker
    from fqselect.choose.ranking import SetRanker
    from fqselect.choose.topk import Candidate
    from fqselect.quality.agreement import logit

    def moment(*qualities):
        return [Candidate(float(logit(q)), 5.0, order=i, quality=q) for i, q in enumerate(qualities)]

    best, close, far = moment(0.95, 0.949, 0.6)
    picker = lambda gap: TopKPicker(3, gap, 0.0, OneSet(3, gap), SetRanker("any", min_gap=gap))  # noqa: E731
    assert picker(1.0).offer([best, close, far]) == [best, close]
    assert picker(0.0).offer(moment(0.95, 0.6))[1].quality == 0.6  # no gap: both
