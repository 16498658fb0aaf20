"""Hostile archives: one bad file never costs the others. A seeded fuzz corpus through one call, odd
names, stale staging folders, broken model files, a gallery without a face, unreadable folders."""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, assert_clean_error, json_lines, run_cli

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_hostile import hostile_corpus  # noqa: E402  (the benchmark's seeded corpus, smaller)

EXAMPLE = ROOT / "examples" / "example.mp4"


def test_fuzz_corpus_every_input_accounted_for(tmp_path, face_photo):
    """120 damaged files of the benchmark's corpus (seeded), then one good clip, in one call."""
    *files, good = hostile_corpus(tmp_path, face_photo, rounds=12, odd=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = run_cli(*files, good, "--top", "1", "--jsonl")
    peak_mib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    assert proc.returncode == 1, proc.stderr  # some inputs failed: documented exit code 1
    assert "Traceback" not in proc.stderr
    stray = [line for line in proc.stderr.splitlines() if line and not line.startswith("fqselect")]
    assert not stray, f"library noise on stderr: {stray[:5]}"
    summary = next(line for line in proc.stderr.splitlines() if " inputs: " in line)
    counts = dict(zip(("ok", "skipped", "no_face", "failed"),
                      map(int, [summary.split(" ok")[0].split()[-1], summary.split(" skipped")[0].split()[-1],
                                summary.split(" without a face")[0].split()[-1], summary.split(" failed")[0].split()[-1]])))
    assert sum(counts.values()) == len(files) + 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith(("fqselect:   failed ", "fqselect:   no face "))]
    assert len(failed) == counts["failed"] + counts["no_face"]
    sources = {r["source"] for r in json_lines(proc.stdout)}
    assert good in sources  # the good input after 120 bad ones still gets its pick
    assert peak_mib < 1500


def test_a_video_whose_name_is_not_utf8(tmp_path):
    """cv2.VideoCapture segfaults on such names; fqselect opens them through a plain-named link."""
    name = os.fsencode(str(tmp_path)) + b"/clip\xff\xfe.mp4"
    try:
        with open(name, "wb") as file:
            file.write(EXAMPLE.read_bytes())
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    proc = run_cli(os.fsdecode(name), "--top", "1", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    assert len(json_lines(proc.stdout)) == 1


def test_long_names_and_colliding_stems_get_distinct_short_folders(tmp_path):
    from fqselect.output.names import MAX_NAME_BYTES, output_names

    long = "é" * 200 + ".mp4"  # 400 bytes in UTF-8: longer than any file system allows a folder name
    inputs = [f"a/{long}", "a/clip.mp4", "b/clip.mp4"]
    names = output_names(inputs)
    hashed = names["a/clip.mp4"]
    names = output_names(inputs + [f"c/{hashed}.mp4"])  # another input whose stem is that hashed name
    assert len(set(names.values())) == len(names) == 4
    assert all(len(os.fsencode(n)) <= MAX_NAME_BYTES for n in names.values())
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / ("x" * 250 + ".mp4")).write_bytes(EXAMPLE.read_bytes())
    proc = run_cli(folder / ("x" * 250 + ".mp4"), "--top", "1", "--out", tmp_path / "out", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    record = json_lines(proc.stdout)[0]
    assert Path(record["frame_file"]).is_file() and Path(record["crop_file"]).is_file()


def test_stale_staging_folders_of_dead_runs_are_removed(tmp_path):
    out = tmp_path / "out"
    host = socket.gethostname()
    dead = out / f".example.tmp-{host}-999999-abcd"  # pid 999999 does not run here
    alive = out / f".other.tmp-{host}-{os.getpid()}-abcd"  # this test's own pid: a live writer
    elsewhere = out / ".third.tmp-another-host-1-abcd"  # another machine's, on a shared --out
    for folder in (dead, alive, elsewhere):
        folder.mkdir(parents=True)
    proc = run_cli(EXAMPLE, "--top", "1", "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists() and alive.exists() and elsewhere.exists()
    assert (out / "example" / "manifest.json").is_file()


def test_broken_model_files_are_one_line_usage_errors(tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    card = json.loads((ROOT / "fqselect" / "zoo" / "weights" / "tinyfqnet.json").read_text())
    (weights / "tinyfqnet.onnx").write_bytes(b"not a network")
    (weights / "tinyfqnet.json").write_text("{broken")
    proc = run_cli(EXAMPLE, "--scorer", "tinyfqnet", env={"FQSELECT_WEIGHTS": str(weights)})
    assert proc.returncode == 2
    assert_clean_error(proc, "tinyfqnet.json", "model card")
    (weights / "tinyfqnet.json").write_text(json.dumps(card))
    proc = run_cli(EXAMPLE, "--scorer", "tinyfqnet", env={"FQSELECT_WEIGHTS": str(weights)})
    assert proc.returncode == 2
    assert_clean_error(proc, "tinyfqnet.onnx")


def test_a_gallery_without_a_face_stops_the_run_before_any_input(tmp_path):
    gallery = tmp_path / "gallery" / "someone"
    gallery.mkdir(parents=True)
    (gallery / "photo.jpg").write_bytes(b"not a photo")
    proc = run_cli(EXAMPLE, EXAMPLE, "--gallery", gallery.parent, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert_clean_error(proc, "gallery")
    assert not (tmp_path / "out" / "example").exists()


def test_an_unreadable_folder_fails_alone(tmp_path, monkeypatch):
    """(Root reads every folder, so the refusal is simulated where the folder is listed.)"""
    from fqselect.decode import images as decode
    from fqselect.run.job import process_input
    from fqselect.options import Options

    def refuse(folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(decode, "folder_images", refuse)
    result = process_input(str(tmp_path), Options())
    assert result.status == "failed" and "Permission denied" in result.error


def crashing_environment(tmp_path: Path) -> dict[str, str]:
    """A sitecustomize that makes every process of the run (workers too: spawned interpreters load it)
    die of SIGSEGV when asked to analyse an input whose name holds "crash", as a decoder would."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, signal\n"
        "def _patch():\n"
        "    import fqselect.run.job as pipeline\n"
        "    real = pipeline.process_input\n"
        "    def process_input(path, *args, **kwargs):\n"
        "        if 'crash' in os.path.basename(path):\n"
        "            os.kill(os.getpid(), signal.SIGSEGV)\n"
        "        return real(path, *args, **kwargs)\n"
        "    pipeline.process_input = process_input\n"
        "import importlib.abc, sys\n"
        "class _Hook(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name in ('fqselect.run.batch', 'fqselect.run.supervise'):  # the parent's, a worker's\n"
        "            sys.meta_path.remove(self)\n"
        "            _patch()\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Hook())\n")
    return {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}


def test_a_decoder_crash_of_a_single_input_is_one_line(tmp_path):
    (tmp_path / "crash.mp4").write_bytes(EXAMPLE.read_bytes())
    proc = run_cli(tmp_path / "crash.mp4", "--top", "1", env=crashing_environment(tmp_path))
    assert proc.returncode == 1
    assert_clean_error(proc, "crash.mp4", "decoder crashed (SIGSEGV)")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_decoder_crash_costs_only_its_input(tmp_path, workers):
    inputs = []
    for name in ("a.mp4", "crash.mp4", "b.mp4", "crash2.mp4", "c.mp4"):
        (tmp_path / name).write_bytes(EXAMPLE.read_bytes())
        inputs.append(tmp_path / name)
    proc = run_cli(*inputs, "--top", "1", "--jsonl", "--workers", workers, env=crashing_environment(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert sorted(Path(r["source"]).name for r in json_lines(proc.stdout)) == ["a.mp4", "b.mp4", "c.mp4"]
    crashed = [line for line in proc.stderr.splitlines() if "decoder crashed (SIGSEGV)" in line]
    assert len(crashed) == 4 and all("crash" in line for line in crashed)  # as it happens, and in the summary
    assert "Traceback" not in proc.stderr


def _children(pid: int) -> list[int]:
    """Live descendants of `pid` (the command's crash guard forks the command, which starts the
    workers), from /proc (Linux)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def _slow_batch(tmp_path: Path) -> list[str]:
    import subprocess
    import sys

    inputs = []
    for i in range(4):
        (tmp_path / f"clip{i}.mp4").write_bytes(EXAMPLE.read_bytes())
        inputs.append(str(tmp_path / f"clip{i}.mp4"))
    return [sys.executable, "-m", "fqselect", *inputs, "--exhaustive", "--embeddings", "--out", str(tmp_path / "out"),
            "--workers", "2"], subprocess


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_workers_die_with_their_parent(tmp_path):
    import signal
    import time

    command, subprocess = _slow_batch(tmp_path)
    parent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(_children(parent.pid)) < 3 and time.monotonic() < deadline:  # the command and 2 workers
        time.sleep(0.05)
    workers = _children(parent.pid)
    assert len(workers) >= 3
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{w}").exists() and "Z" not in (Path(f"/proc/{w}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
              for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and (Path(f"/proc/{w}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"workers outlived their parent: {alive}"


def test_ctrl_c_stops_a_parallel_batch_within_a_second(tmp_path):
    import signal
    import time

    command, subprocess = _slow_batch(tmp_path)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the workers are at work
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 1.5
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "interrupted; " in stderr and " of 4 inputs complete" in stderr, stderr
    assert not list((tmp_path / "out").glob(".*")), "a staging folder was left behind"


def test_max_pixels_refuses_from_the_header(tmp_path):
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((1200, 1000, 3), np.uint8))
    proc = run_cli(big, EXAMPLE, "--max-pixels", "1000000", "--top", "1", "--jsonl")
    assert proc.returncode == 1
    assert_clean_error(proc, "big.png", "larger than 1,000,000 pixels")
    assert [Path(r["source"]).name for r in json_lines(proc.stdout)] == ["example.mp4"]
    proc = run_cli("score", big, "--max-pixels", "1000000")
    assert proc.returncode == 1 and "larger than 1,000,000 pixels" in proc.stderr
    proc = run_cli(EXAMPLE, "--max-pixels", "100000", "--top", "1")  # a video's frames, from its header too
    assert proc.returncode == 1
    assert_clean_error(proc, "example.mp4", "video frames of 480×360 are larger than 100,000 pixels")


def test_score_reads_ahead_a_bounded_number_of_bytes(monkeypatch):
    """Images decoded but not yet used never exceed PREFETCH_BYTES plus the two being decoded, however
    many the count-based window (64) would allow."""
    from fqselect.decode import readahead as api

    monkeypatch.setattr(api, "PREFETCH_BYTES", 3_000_000)
    started = [0]

    def fake_read(path):
        started[0] += 1
        return np.zeros((1000, 1000), np.uint8)  # 1 MB each

    monkeypatch.setattr(api, "read_image", fake_read)
    consumed, most_waiting = 0, 0
    for _ in api.images_ahead([str(i) for i in range(50)]):
        consumed += 1
        most_waiting = max(most_waiting, started[0] - consumed)
    assert consumed == 50
    assert most_waiting <= 3 + api.IMAGE_DECODERS


def test_null_separated_stdin_paths_keep_newlines_and_blanks(tmp_path):
    names = ["with\nnewline.mp4", " leading blank.mp4"]
    for name in names:
        (tmp_path / name).write_bytes(EXAMPLE.read_bytes())
    stdin = "\0".join(str(tmp_path / name) for name in names) + "\0"
    proc = run_cli("-", "-0", "--top", "1", "--jsonl", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert sorted(Path(r["source"]).name for r in json_lines(proc.stdout)) == sorted(names)
    proc = run_cli("-", "--top", "1", stdin=stdin)  # NULs without -0: binary data, one usage error
    assert proc.returncode == 2
    assert_clean_error(proc, "-0")


def test_score_refuses_a_fifo_instead_of_blocking(tmp_path, face_photo):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    proc = run_cli("score", fifo, face_photo)
    assert proc.returncode == 1
    assert_clean_error(proc, f"{fifo}: not a regular file")
    assert json_lines(proc.stdout)  # the photo after it was still scored
