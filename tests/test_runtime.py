"""Thread counts follow the cores this process may use (its CPU affinity), not the machine's."""

import os

import pytest

from fqselect import cores as runtime


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")
@pytest.mark.parametrize("cores, onnx_threads, small_frames, large_frames", [(1, 1, 1, 1), (2, 1, 1, 2), (8, 7, 1, 2)])
def test_threads_follow_the_usable_cores(monkeypatch, cores, onnx_threads, small_frames, large_frames):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's count must not matter
    monkeypatch.delenv("FQSELECT_THREADS", raising=False)
    monkeypatch.delenv("FQSELECT_DECODER_THREADS", raising=False)
    assert runtime.default_threads() == onnx_threads
    assert runtime.decoder_threads(0) == small_frames
    assert runtime.decoder_threads(1920 * 1080) == large_frames
