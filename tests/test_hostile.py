"""Hostile archives: one bad file never costs the others. A seeded fuzz corpus through one call, odd
names, stale staging folders, broken model files, a gallery without a face, unreadable folders."""

from __future__ import annotations

import json
import os
import resource
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT, assert_clean_error, json_lines, run_cli

EXAMPLE = ROOT / "examples" / "example.mp4"


def fuzz_corpus(folder: Path, photo: Path, rounds: int = 12, seed: int = 0) -> list[Path]:
    """Truncated and bit-flipped videos and images, random bytes, empty files and wrong extensions."""
    rng = np.random.default_rng(seed)
    video, jpeg = EXAMPLE.read_bytes(), photo.read_bytes()
    png = cv2.imencode(".png", cv2.resize(cv2.imread(str(photo)), (160, 120)))[1].tobytes()

    def flipped(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(int(rng.integers(1, 40))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        return bytes(data)

    files = []
    for i in range(rounds):
        for name, data in [("trunc.mp4", video[: int(rng.integers(100, len(video)))]), ("flip.mp4", flipped(video)),
                           ("trunc.jpg", jpeg[: int(rng.integers(10, len(jpeg)))]), ("flip.jpg", flipped(jpeg)),
                           ("flip.png", flipped(png)), ("random.mp4", rng.bytes(int(rng.integers(1, 4000)))),
                           ("random.jpg", rng.bytes(int(rng.integers(1, 4000)))), ("empty.png", b""),
                           ("video-named.png", video[:20000]), ("jpeg-named.mp4", jpeg)]:
            path = folder / f"{i:02d}_{name}"
            path.write_bytes(data)
            files.append(path)
    return files


def test_fuzz_corpus_every_input_accounted_for(tmp_path, face_photo):
    files = fuzz_corpus(tmp_path, face_photo)
    good = tmp_path / "zz_good.mp4"
    good.write_bytes(EXAMPLE.read_bytes())
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = run_cli(*files, good, "--top", "1", "--jsonl")
    peak_mib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    assert proc.returncode == 1, proc.stderr  # some inputs failed: documented exit code 1
    assert "Traceback" not in proc.stderr
    stray = [line for line in proc.stderr.splitlines() if line and not line.startswith("fqselect")]
    assert not stray, f"library noise on stderr: {stray[:5]}"
    summary = next(line for line in proc.stderr.splitlines() if "input(s):" in line)
    counts = dict(zip(("ok", "skipped", "no_face", "failed"),
                      map(int, [summary.split(" ok")[0].split()[-1], summary.split(" skipped")[0].split()[-1],
                                summary.split(" without a face")[0].split()[-1], summary.split(" failed")[0].split()[-1]])))
    assert sum(counts.values()) == len(files) + 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith("fqselect:   failed ")]
    assert len(failed) == counts["failed"] + counts["no_face"]
    sources = {r["source"] for r in json_lines(proc.stdout)}
    assert str(good) in sources  # the good input after 120 bad ones still gets its pick
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
    from fqselect.write import MAX_NAME_BYTES, output_names

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
    card = json.loads((ROOT / "fqselect" / "weights" / "tinyfqnet.json").read_text())
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
    from fqselect import decode
    from fqselect.pipeline import process_input
    from fqselect.results import Options

    def refuse(folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(decode, "folder_images", refuse)
    result = process_input(str(tmp_path), Options())
    assert result.status == "failed" and "Permission denied" in result.error
