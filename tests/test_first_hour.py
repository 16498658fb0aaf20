"""What tripped a new user in their first hour (one test a point of the list they made): the command says
what it does, refuses contradictions, names what limited a run, and words photos as photos."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import cv2
import pytest

from conftest import ROOT, json_lines, run_cli
from fqselect.options import Options
from fqselect.output.manifest import is_complete
from fqselect.run.batch import run_batch

from test_batch import FakeExecutor

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_on_terminal(*args: str, columns: int, cwd: Path | None = None) -> str:
    """`fqselect ARGS` with stdout on a terminal `columns` wide; what it printed there, colours stripped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "fqselect", *map(str, args)], stdout=slave, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=300)
    os.close(master)
    return ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "")


def photo_folder(tmp_path: Path, face_photo: Path, names: tuple[str, ...]) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    image = cv2.imread(str(face_photo))
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), cv2.resize(image, None, fx=1 - 0.1 * i, fy=1 - 0.1 * i))
    return folder


def test_3_a_bare_command_prints_the_help_alone_and_option_errors_point_to_the_help_that_lists_them(clip):
    bare = run_cli()
    assert "Usage: " in bare.stdout and "fqselect select --help" in bare.stdout
    assert "error" not in bare.stderr  # no empty "fqselect: error:" after the help
    wrong = run_cli(clip[0], "--top", "0")
    assert wrong.returncode == 2 and "(see fqselect select --help)" in wrong.stderr
    assert "--top" in run_cli("select", "--help").stdout


def test_4_contradictions_are_refused_or_said(clip, face_photo):
    path, _ = clip  # 6 s long
    both = run_cli(path, "--keyframes", "--exhaustive")
    assert both.returncode == 2 and "--keyframes" in both.stderr and "--exhaustive" in both.stderr
    image = run_cli(face_photo, "--start", "2", "--jsonl")
    assert image.returncode == 0 and "--start applies to videos" in image.stderr
    late = run_cli(path, "--start", "10")
    assert late.returncode == 1 and "--start 10 is past the video's end (6.0 s)" in late.stderr
    assert "no face" not in late.stderr


def test_5_score_names_a_video_as_one(clip):
    proc = run_cli("score", clip[0])
    assert proc.returncode == 1
    assert f"{clip[0]}: a video: `fqselect score` scores images (`fqselect {clip[0]}` picks a video's faces)" in proc.stderr
    assert "corrupt" not in proc.stderr


def test_6_score_aligned_says_a_crop_can_score_other_than_the_run():
    help_text = " ".join(run_cli("score", "--help").stdout.split())
    assert "can score other than the run's net_quality" in help_text.replace("│ ", "")
    assert "`fqselect score --aligned` on a pick's saved crop" in (ROOT / "README.md").read_text()


def test_7_fewer_picks_than_top_says_which_limit_applied(clip):
    proc = run_cli(clip[0], "--top", "12")
    assert "of 12 picks: picks are --min-gap 1 s apart, and the video is 6.0 s long" in proc.stderr


def test_8_the_ranked_score_is_shown_and_ranks_the_picks(clip):
    records = json_lines(run_cli(clip[0], "--jsonl", "--top", "3").stdout)
    assert [r["rank"] for r in records] == [1, 2, 3]
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    header = run_cli(clip[0], "--top", "3").stdout.splitlines()[0].split()
    assert header[:4] == ["input", "rank", "frame/photo", "score"]


def test_9_photos_keep_their_names_and_photo_wording(tmp_path, face_photo):
    folder = photo_folder(tmp_path, face_photo, ("d13_0336.jpg", "IMG_0042.jpg"))
    proc = run_cli(folder, "--out", tmp_path / "out", "--top", "1")
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (tmp_path / "out" / "photos").iterdir())
    assert any(name.endswith("_frame.jpg") and ("d13_0336" in name or "IMG_0042" in name) for name in written), written
    assert "2 photos" in proc.stderr and "frames" not in proc.stderr and "decoded" not in proc.stderr
    assert proc.stdout.splitlines()[1].split()[2] in ("d13_0336.jpg", "IMG_0042.jpg")  # the photo, not "time 0.00"


def test_10_the_summary_counts_in_words_with_plurals(clip, face_photo):
    video = run_cli(clip[0], "--top", "1").stderr
    assert re.search(r"1 video: 24 frames, 24 decoded, \d+ searched whole", video), video
    assert "input(s)" not in video and "1 input:" in video
    photo = run_cli(face_photo, "--top", "1").stderr
    assert "1 photo;" in photo and "1 photos" not in photo


def test_11_tables_never_split_a_path_on_an_80_column_terminal(clip, tmp_path):
    out = tmp_path / "a-rather-long-folder-name-for-the-picks-of-today"
    text = run_on_terminal(clip[0], "--out", out, "--top", "2", "-q", columns=80)
    written = sorted(str(p) for p in (out / "clip").glob("r0*_frame.jpg"))
    assert written and all(path in text for path in written), text
    models = run_on_terminal("models", columns=80)
    assert "fqselect/zoo/weights/opencv_zoo" in models, models


def test_12_a_missing_single_input_is_said_once(tmp_path):
    missing = tmp_path / "missing.mp4"
    proc = run_cli(missing)
    assert proc.returncode == 1
    assert proc.stderr.count(f"{missing}: no such file or folder") == 1
    assert len(proc.stderr.splitlines()) == 2  # the error and the summary


def test_13_help_texts_say_the_ray_extra_their_own_exit_codes_and_plain_usage_lines():
    select = run_cli("select", "--help").stdout
    assert "(the  extra)" not in select and "ray extra" in " ".join(select.split())
    assert "VIDEO|FOLDER|IMAGE|URL|-..." in select
    for command, own in (("score", "every image was scored"), ("report", "the report was written")):
        text = " ".join(run_cli(command, "--help").stdout.split())
        assert own in text and "every input gave a selection" not in text
    for command in ("select", "score", "report", "eval"):
        usage = next(line for line in run_cli(command, "--help").stdout.splitlines() if "Usage:" in line)
        assert "{" not in usage, usage


def test_14_the_quick_start_runs_twice_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n\n```bash\n(.*?)```", readme, re.S).group(1)
    assert block.splitlines()[0].startswith("python3 -m venv .venv && . .venv/bin/activate")
    command = next(line.split("#")[0].split() for line in block.splitlines() if line.startswith("fqselect "))
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "example.mp4", tmp_path / "examples")
    for _ in range(2):
        proc = run_cli(*command[1:], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert is_complete(tmp_path / "out" / "example")


def test_two_runs_sharing_an_out_a_folder_another_run_completed_is_a_skip_under_resume(tmp_path):
    class OtherRunFinishesFirst(FakeExecutor):
        """While this run works on a.mp4, another run writes a.mp4's folder."""

        def map(self, paths, options, progress=None, on_start=None):
            for result in super().map(paths, options, progress, on_start):
                list(run_batch([result.input], Options(), tmp_path, FakeExecutor()))
                yield result

    results = list(run_batch(["a.mp4"], Options(), tmp_path, OtherRunFinishesFirst(), resume=True))
    assert results[0].status == "skipped", results[0].error
    assert is_complete(tmp_path / "a")


def test_two_runs_sharing_an_out_each_keep_their_failures(tmp_path):
    first = run_cli(tmp_path / "gone-1.mp4", "--out", tmp_path / "out")
    second = run_cli(tmp_path / "gone-2.mp4", "--out", tmp_path / "out", "--resume")
    assert first.returncode == second.returncode == 1
    lines = [line for line in (tmp_path / "out" / "failures.jsonl").read_text().splitlines() if line]
    records = [json.loads(line) for line in lines]
    assert [Path(r["input"]).name for r in records] == ["gone-1.mp4", "gone-2.mp4"]
    assert len({r["run"] for r in records}) == 2 and all(r["run"] for r in records)


@pytest.mark.parametrize("per_person", [False, True])
def test_1_embeddings_have_one_naming_in_both_modes(clip, tmp_path, per_person):
    args = ("--per-person",) if per_person else ()
    proc = run_cli(clip[0], "--out", tmp_path / "out", "-q", "--embeddings", "--top", "2", *args)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out" / "clip").glob("*.npy"))
    assert names == (["p00_embedding.npy", "p00_embeddings.npy"] if per_person else ["embedding.npy", "embeddings.npy"])


def test_2_manifest_paths_are_relative_to_the_manifest_so_the_folder_can_move(clip, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli(clip[0], "--out", "out", "-q", "--embeddings", cwd=work)
    assert proc.returncode == 0, proc.stderr
    moved = tmp_path / "elsewhere"
    shutil.move(str(work / "out" / "clip"), moved)
    manifest = json.loads((moved / "manifest.json").read_text())
    files = [manifest["embedding_file"], manifest["embeddings_file"]]
    files += [face[key] for face in manifest["faces"] for key in ("frame_file", "crop_file")]
    assert all(not Path(name).is_absolute() and (moved / name).is_file() for name in files), files
