"""Parallel decoding (decode.ChunkedVideo): keyframe-aligned chunks decoded two at a time give the frames,
indexes, windows and picks one reader gives."""

import threading

import pytest

from fqselect.decode import Sampling, open_input
from fqselect.decode import chunks as decode
from fqselect.decode.chunks import split_video
from fqselect.run import job as pipeline
from fqselect.run.job import process_input
from fqselect.decode.prescreen import joined, sharpest_per_window
from fqselect.options import Options


@pytest.fixture(scope="module")
def h264_clip(tmp_path_factory, make_example):
    """12 s of the group scene as x264 encodes it by default: B-frames, a keyframe at each camera shake."""
    path = tmp_path_factory.mktemp("chunks") / "group.mp4"
    make_example.make_group_clip(path, (640, 360), 300, encoding="h264")
    return str(path)


@pytest.fixture(autouse=True)
def two_decoders(monkeypatch):
    """Two decoders, as on the two-core machines the project runs on, whatever this one has, and the
    small test clips split as a 1080p one would be."""
    monkeypatch.setattr(decode, "decoder_threads", lambda **_: 2)
    monkeypatch.setattr(decode, "CHUNK_MIN_PIXEL_RATE", 0)


def frames_of(path: str, sampling: Sampling, chunked: bool) -> list[tuple[int, float]]:
    with open_input(path, sampling) as source:
        if not chunked:
            return [(f.index, round(f.time, 4)) for f in source.frames()]
        video = split_video(source, kept_per_second=2)
        assert video is not None and len(video.starts) >= 1
        with video:
            items = video.reduced(lambda frames: ([f] for f in frames), frames_of=lambda item: item)
            return [(f.index, round(f.time, 4)) for item in items for f in item]


@pytest.mark.parametrize("start, end", [(0.0, None), (2.5, 11.0)])
def test_chunks_give_the_frames_and_indexes_one_reader_gives(h264_clip, start, end):
    sampling = Sampling(prescreen=True, start=start, end=end)
    whole = frames_of(h264_clip, sampling, chunked=False)
    assert len(whole) > 100 and whole[0][1] >= start and (end is None or whole[-1][1] < end)
    assert frames_of(h264_clip, sampling, chunked=True) == whole


def test_chunks_pick_what_one_reader_picks(h264_clip, monkeypatch):
    chunked = process_input(h264_clip, Options(top=3))
    monkeypatch.setattr(pipeline, "split_video", lambda *_: None)
    whole = process_input(h264_clip, Options(top=3))
    assert chunked.status == whole.status == "ok" and not chunked.warnings
    assert chunked.frames_decoded == whole.frames_decoded and chunked.frames_analysed == whole.frames_analysed
    assert [(p.frame, p.time, p.quality) for p in chunked.picks] == [(p.frame, p.time, p.quality) for p in whole.picks]


def test_a_window_split_by_a_chunk_boundary_is_joined(h264_clip):
    with open_input(h264_clip, Sampling(prescreen=True)) as source:
        frames = list(source.frames())
    cut = next(i for i, f in enumerate(frames) if f.time >= 4.5)  # inside the window from 4 s
    parts = [*sharpest_per_window(frames[:cut], 1.0, 2), *sharpest_per_window(frames[cut:], 1.0, 2)]
    expected = list(sharpest_per_window(frames, 1.0, 2))
    got = list(joined(parts, 2))
    assert len(parts) == len(expected) + 1
    assert [([f.index for f in w.frames], w.looked_at, w.start, w.end) for w in got] == \
           [([f.index for f in w.frames], w.looked_at, w.start, w.end) for w in expected]


def test_leaving_early_stops_the_decoders(h264_clip):
    with open_input(h264_clip, Sampling(prescreen=True)) as source:
        video = split_video(source, kept_per_second=2)
        with video:
            next(iter(video.reduced(lambda frames: ([f] for f in frames), frames_of=lambda item: item)))
    assert not [t for t in threading.enumerate() if t.name.startswith("fqselect-chunks")]


def test_not_split_where_one_reader_is_needed(h264_clip, monkeypatch):
    for sampling in (Sampling(), Sampling(prescreen=True, max_frames=50), Sampling(prescreen=True, keyframes=True)):
        with open_input(h264_clip, sampling) as source:
            assert split_video(source, kept_per_second=2) is None
    monkeypatch.setattr(decode, "decoder_threads", lambda **_: 1)
    with open_input(h264_clip, Sampling(prescreen=True)) as source:
        assert split_video(source, kept_per_second=2) is None


def test_only_heavy_decoding_is_split(h264_clip, monkeypatch):
    """640×360 at 25 fps with B-frames: 2.9 M pixels a second decoded, the analysis outweighs it."""
    monkeypatch.setattr(decode, "CHUNK_MIN_PIXEL_RATE", 16e6)
    with open_input(h264_clip, Sampling(prescreen=True)) as source:
        assert split_video(source, kept_per_second=2) is None
    monkeypatch.setattr(decode, "CHUNK_MIN_PIXEL_RATE", 2.5e6)
    with open_input(h264_clip, Sampling(prescreen=True)) as source:
        assert split_video(source, kept_per_second=2) is not None


def test_chunks_of_a_variable_frame_rate_clip_keep_the_display_order_index(tmp_path):
    """Indexes count frames, not seconds × rate: each chunk counts from 0 and the next is moved on by
    the frames the one before held."""
    import numpy as np

    from test_timestamps import write_clip

    times = [i * 0.1 for i in range(30)] + [3.0 + i * 0.02 for i in range(50)] + [4.0 + i * 0.5 for i in range(20)]
    path = str(tmp_path / "vfr.mp4")
    write_clip(path, [np.full((120, 160, 3), 2 * i, np.uint8) for i in range(len(times))], times)
    sampling = Sampling(prescreen=True)
    whole = frames_of(path, sampling, chunked=False)
    assert [i for i, _ in whole] == list(range(len(times)))
    assert frames_of(path, sampling, chunked=True) == whole


def test_windows_lie_on_a_grid_from_the_origin_whatever_frames_are_skipped():
    """With non-reference frames skipped, frames come at uneven times: each window is still the second
    (from --start) its frames fall in, not a second from its first frame (which drifted later and later)."""
    import numpy as np

    from fqselect.decode import Frame

    rng = np.random.default_rng(0)
    times = np.sort(rng.choice(np.arange(0, 250) / 25, size=120, replace=False))  # 10 s at 25 fps, half skipped
    frames = [Frame(i, float(t), rng.integers(0, 255, (36, 64, 3), dtype=np.uint8), "x") for i, t in enumerate(times)]
    for origin in (0.0, 0.3):
        windows = list(sharpest_per_window(frames, 1.0, keep=2, origin=origin))
        for window in windows:
            assert all(int((f.time - origin) // 1.0) == window.slot for f in window.frames)
            assert int((window.start - origin) // 1.0) == int((window.end - origin) // 1.0) == window.slot
        assert sum(w.looked_at for w in windows) == len(frames)
        assert [w.slot for w in windows] == sorted({int((t - origin) // 1.0) for t in times})
