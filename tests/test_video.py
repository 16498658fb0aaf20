"""The fast default video path against the thorough one (--exhaustive), on a generated group clip."""

import numpy as np
import pytest

from fqselect.decode import open_input
from fqselect.pipeline import Options, process_input
from fqselect.prescreen import PRESCREEN_FPS, sharpness_order


@pytest.fixture(scope="module")
def group_clip(tmp_path_factory, make_example):
    """Six faces, 640×360, 100 frames at 25 fps, a camera shake (motion blur) every third second."""
    path = tmp_path_factory.mktemp("group") / "group.mp4"
    make_example.make_group_clip(path, (640, 360), 100)
    return path


def test_default_finds_a_face_as_good_as_exhaustive_with_a_fraction_of_the_detector_runs(group_clip):
    default = process_input(str(group_clip), Options())
    exhaustive = process_input(str(group_clip), Options(exhaustive=True))
    assert default.status == exhaustive.status == "ok"
    assert default.frames_decoded == exhaustive.frames_decoded == 100
    assert exhaustive.frames_analysed == 100
    assert default.frames_analysed <= 100 * 2 / 25  # ≤ 2 detector runs per 1-s window
    assert default.picks[0].quality >= 0.98 * exhaustive.picks[0].quality


def test_default_never_picks_a_shaken_frame(group_clip):
    default = process_input(str(group_clip), Options(top=3))
    shaken = {i for i in range(100) if (i // 25) % 3 == 1}  # make_group_clip's blur bursts
    assert len(default.picks) == 3
    assert not {p.frame for p in default.picks} & shaken


def test_prescreen_converts_only_a_few_frames_a_second(group_clip):
    source = open_input(str(group_clip), Options().sampling)
    frames = list(source.frames())
    assert source.decoded == 100  # every frame grabbed ...
    assert len(frames) == pytest.approx(100 * PRESCREEN_FPS / 25, abs=1 + 100 // 25)  # ... few converted
    order = sharpness_order(frames[:8])
    assert sorted(order) == list(range(8))
    assert all(f.index % round(25 / PRESCREEN_FPS) == 0 for f in frames)


def test_exhaustive_and_explicit_sampling_convert_every_asked_frame(group_clip):
    assert len(list(open_input(str(group_clip), Options(exhaustive=True).sampling).frames())) == 100
    assert [f.index for f in open_input(str(group_clip), Options(every=10).sampling).frames()] == list(range(0, 100, 10))
    assert np.all(np.diff([f.time for f in open_input(str(group_clip), Options(fps=5).sampling).frames()]) > 0)


def test_decoding_starts_when_frames_are_asked_for_and_stops_on_close(group_clip):
    """The decoder runs ahead while the caller still loads models, and leaves no thread behind."""
    with open_input(str(group_clip), Options().sampling) as source:
        source.frames()  # not iterated yet
        source._worker.join(timeout=30)  # blocks on its full prefetch queue, or reaches the end
        assert source.decoded > 0
    assert not source._worker.is_alive()
