"""The default video path's decoding alone: the frames it decodes, decoded as it decodes them (in
keyframe-aligned chunks where it splits the video), none converted, no pre-screen, no model.

    python benchmarks/default_decoding.py VIDEO          # the decode floor, as a whole process
    python benchmarks/default_decoding.py VIDEO --cpu    # one FFmpeg thread: prints CPU seconds and frames

bench_video_floor.py runs it as its own process (it imports what the command imports and nothing of the
benchmarks', so the floor pays the command's start-up and no more) and calls `decode_as_the_default_path`
in-process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fqselect.cli  # noqa: E402,F401 (the command's imports, paid by the floor as by the command)
from fqselect.decode import open_input, split_video  # noqa: E402
from fqselect.run.job import window_budget  # noqa: E402
from fqselect.options import Options  # noqa: E402


def decode_as_the_default_path(path: str) -> int:
    """Decode the frames `fqselect PATH --top 3` decodes, as it does; their count."""
    options = Options(top=3)
    with open_input(path, options.sampling) as source:
        window = options.window_for(source.seconds())
        chunked = split_video(source, window_budget(options.top, window, options.min_gap) / window)
        if chunked is None:
            return sum(1 for _ in source.frames())
        with chunked:
            return sum(chunked.reduced(lambda frames: iter([sum(1 for _ in frames)]), frames_of=lambda _: []))


if __name__ == "__main__":
    if "--cpu" in sys.argv[2:]:
        os.environ["FQSELECT_DECODER_THREADS"] = "1"  # one decoder thread: the video is read whole
        start = os.times()
        count = decode_as_the_default_path(sys.argv[1])
        end = os.times()
        print(end.user - start.user + end.system - start.system, count)
    else:
        decode_as_the_default_path(sys.argv[1])
