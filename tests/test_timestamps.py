"""Time is the stream's presentation timestamp: variable-frame-rate clips (phones, NVRs) get the right
`time`, and --start/--end/--fps/--min-gap act on it; --start seeks instead of decoding its way there."""

from __future__ import annotations

from fractions import Fraction

import av  # writes the variable-frame-rate test clips
import numpy as np
import pytest

from conftest import json_lines, run_cli
from fqselect.decode import Sampling, open_input


# 10 frames 0.1 s apart, 10 frames 0.02 s apart, then 10 frames 0.5 s apart: average rate 5.2 fps
VFR_TIMES = [i * 0.1 for i in range(10)] + [1.0 + i * 0.02 for i in range(10)] + [1.2 + i * 0.5 for i in range(10)]


def write_clip(path, images, times, keyframe_every: int = 12) -> None:
    """An MPEG-4 clip whose frames carry the given presentation times (milliseconds time base)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4")
        stream.height, stream.width = images[0].shape[:2]
        stream.pix_fmt, stream.time_base = "yuv420p", Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.gop_size = keyframe_every
        for image, time in zip(images, times):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = round(time * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    write_clip(path, [np.full((120, 160, 3), 8 * i, np.uint8) for i in range(len(VFR_TIMES))], VFR_TIMES)
    return path


def frame_times(path, **sampling) -> list[float]:
    with open_input(str(path), Sampling(**sampling)) as source:
        return [round(f.time, 3) for f in source.frames()]


def test_time_is_the_presentation_timestamp(vfr_clip):
    assert frame_times(vfr_clip) == [round(t, 3) for t in VFR_TIMES]


def test_start_end_and_fps_act_on_timestamps(vfr_clip):
    assert frame_times(vfr_clip, start=2.0) == [round(t, 3) for t in VFR_TIMES if t >= 2.0]
    assert frame_times(vfr_clip, start=1.05, end=2.5) == [round(t, 3) for t in VFR_TIMES if 1.05 <= t < 2.5]
    times = frame_times(vfr_clip, fps=2)
    assert np.diff(times).min() >= 0.5 - 1e-3  # at most 2 a second, by time, wherever frames crowd
    assert times[:3] == [0.0, 0.5, 1.0]


def test_start_seeks_to_the_right_frame(tmp_path):
    """A 60 s constant-rate clip: --start lands on the first frame at or after it, with its own index
    and the same pixels as decoding from the beginning gives."""
    path = tmp_path / "long.mp4"
    write_clip(path, [np.full((64, 64, 3), (11 * i) % 256, np.uint8) for i in range(600)],
               [i / 10 for i in range(600)], keyframe_every=50)
    with open_input(str(path), Sampling(start=42.05, max_frames=2)) as source:
        seeked = list(source.frames())
    assert [(f.index, round(f.time, 2)) for f in seeked] == [(421, 42.1), (422, 42.2)]
    with open_input(str(path), Sampling(end=42.3)) as source:  # decoded from the first frame
        decoded = {f.index: f.image for f in source.frames()}
    assert all(np.array_equal(f.image, decoded[f.index]) for f in seeked)


def test_picks_report_timestamps_on_vfr_video(tmp_path, make_example):
    """A face in every frame of a VFR clip: each pick's `time` is its frame's timestamp, and --min-gap
    is measured in it."""
    scene = make_example.face_scene(make_example.sample_photo())
    images = [scene] * len(VFR_TIMES)
    path = tmp_path / "faces.mp4"
    write_clip(path, images, VFR_TIMES)
    picks = json_lines(run_cli(path, "--jsonl", "--exhaustive", "--top", "30", "--min-gap", "0").stdout)
    assert sorted(p["time"] for p in picks) == pytest.approx(VFR_TIMES, abs=1e-3)
    assert all(VFR_TIMES[p["frame"]] == pytest.approx(p["time"], abs=1e-3) for p in picks)
    spaced = json_lines(run_cli(path, "--jsonl", "--exhaustive", "--top", "30", "--min-gap", "0.45").stdout)
    times = sorted(p["time"] for p in spaced)
    assert len(times) >= 9 and np.diff(times).min() >= 0.45 - 1e-3
