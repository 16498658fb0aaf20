"""The writer: each input's folder appears whole or not at all, an old output is replaced only once the new
one is complete, and staging folders of killed runs are cleaned up, a live run's left alone."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest

from fqselect.errors import InputError
from fqselect.options import Options
from fqselect.output.manifest import MANIFEST, is_complete, read_picks
from fqselect.output.write import prepare_out_dir, remove_stale_staging, write_result
from fqselect.records import InputResult, Pick


def result_with_picks(count: int = 2, broken: bool = False) -> InputResult:
    picks = []
    for rank in range(1, count + 1):
        image = np.full((40, 60, 3), 80 + rank, np.uint8)
        picks.append(Pick(source="clip.mp4", frame=10 * rank, time=rank / 10, bbox=[1, 2, 30, 35],
                          landmarks=[[5.0, 5.0]] * 5, det_score=0.9, quality=0.9 - rank / 100, rank=rank,
                          image=None if broken and rank == count else image, crop=np.zeros((112, 112, 3), np.uint8)))
    return InputResult(input="clip.mp4", kind="video", picks=picks)


def test_a_written_folder_holds_every_pick_and_a_manifest(tmp_path):
    folder = tmp_path / "clip"
    write_result(result_with_picks(), Options(), folder, overwrite=False)
    assert is_complete(folder)
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "r01_f000010_crop.png", "r01_f000010_frame.jpg",
                                                       "r02_f000020_crop.png", "r02_f000020_frame.jpg"]
    assert [r["rank"] for r in read_picks(folder)] == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["clip"]  # no staging folder left


def test_an_existing_folder_is_refused_without_overwrite(tmp_path):
    (tmp_path / "clip").mkdir()
    with pytest.raises(InputError, match="exists"):
        write_result(result_with_picks(), Options(), tmp_path / "clip", overwrite=False)


def test_a_failed_write_leaves_the_old_output_whole_and_no_staging(tmp_path):
    folder = tmp_path / "clip"
    write_result(result_with_picks(1), Options(), folder, overwrite=False)
    before = sorted(p.name for p in folder.iterdir())
    broken = result_with_picks(2, broken=True)  # its second frame cannot be encoded
    with pytest.raises(Exception):
        write_result(broken, Options(), folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip"]
    assert all(p.frame_file is None and p.crop_file is None for p in broken.picks)  # no record names a lost file


def test_overwrite_swaps_the_new_output_in_whole(tmp_path):
    folder = tmp_path / "clip"
    write_result(result_with_picks(1), Options(), folder, overwrite=False)
    write_result(result_with_picks(2), Options(), folder, overwrite=True)
    assert len(read_picks(folder)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["clip"]  # the replaced folder is gone too


def dead_pid() -> int:
    pid = 2 ** 22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        pid -= 1


def test_stale_staging_of_a_killed_run_is_removed_and_a_live_runs_kept(tmp_path):
    host = socket.gethostname()
    killed = [tmp_path / f".clip.tmp-{host}-{dead_pid()}-abc", tmp_path / f".clip.old-{host}-{dead_pid()}"]
    live = tmp_path / f".other.tmp-{host}-{os.getpid()}-xyz"
    elsewhere = tmp_path / f".clip.tmp-another-host-{dead_pid()}-abc"  # a shared --out: not ours to judge
    for folder in [*killed, live, elsewhere]:
        folder.mkdir()
    assert remove_stale_staging(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, elsewhere.name])


def test_prepare_out_dir_refuses_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(Exception, match="not writable"):
        prepare_out_dir(blocker / "out")


def test_the_manifest_records_the_options_and_picks(tmp_path):
    write_result(result_with_picks(), Options(top=2, min_gap=0.5), tmp_path / "clip", overwrite=False)
    manifest = json.loads((tmp_path / "clip" / MANIFEST).read_text())
    assert manifest["options"]["top"] == 2 and manifest["options"]["min_gap"] == 0.5
    assert [face["frame"] for face in manifest["faces"]] == [10, 20]
