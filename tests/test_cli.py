"""The command as a user runs it: options, JSON shape, outputs, and every kind of bad input."""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import assert_clean_error, json_lines, run_cli, segment_of

RECORD_KEYS = {"source", "frame", "time", "bbox", "landmarks", "det_score", "quality", "rank", "scorer",
               "scorer_version", "frame_file", "crop_file"}


def test_default_run_picks_the_clean_frames(clip):
    path, table = clip
    proc = run_cli(path, "--jsonl", "--top", "3", "--min-gap", "0")
    assert proc.returncode == 0, proc.stderr
    picks = json_lines(proc.stdout)
    assert [p["rank"] for p in picks] == [1, 2, 3]
    assert segment_of(table, picks[0]["frame"]) == "clean"
    assert sum(segment_of(table, p["frame"]) == "clean" for p in picks) >= 2


def test_jsonl_record_shape(clip):
    path, _ = clip
    picks = json_lines(run_cli(path, "--jsonl", "-k", "2").stdout)
    assert len(picks) == 2
    for p in picks:
        assert RECORD_KEYS <= set(p)
        assert p["source"] == str(path)
        assert len(p["bbox"]) == 4 and p["bbox"][0] < p["bbox"][2] and p["bbox"][1] < p["bbox"][3]
        assert np.array(p["landmarks"]).shape == (5, 2)
        assert 0 <= p["quality"] <= 1 and 0 <= p["det_score"] <= 1
        assert p["time"] == pytest.approx(p["frame"] / 4, abs=1e-3)
        assert p["frame_file"] is None and p["crop_file"] is None
    assert picks[0]["quality"] >= picks[1]["quality"]


def test_missing_network_is_announced_even_when_quiet(clip, tmp_path):
    path, _ = clip
    proc = run_cli(path, "--jsonl", "-q", env={"FQSELECT_WEIGHTS": str(tmp_path)})  # a weights folder with no network
    assert proc.returncode == 0, proc.stderr
    assert "no trained quality network" in proc.stderr
    assert {p["scorer"] for p in json_lines(proc.stdout)} == {"combined"}


def test_min_gap_spreads_the_picks(clip):
    path, _ = clip
    picks = json_lines(run_cli(path, "--jsonl", "--min-gap", "1.5").stdout)
    times = sorted(p["time"] for p in picks)
    assert all(b - a >= 1.5 for a, b in zip(times, times[1:]))


def test_sampling_options_limit_the_frames(clip):
    path, _ = clip
    picks = json_lines(run_cli(path, "--jsonl", "--every", "5", "--top", "10", "--min-gap", "0").stdout)
    assert picks and all(p["frame"] % 5 == 0 for p in picks)
    picks = json_lines(run_cli(path, "--jsonl", "--start", "2", "--end", "3", "--top", "10", "--min-gap", "0").stdout)
    assert picks and all(2.0 <= p["time"] < 3.0 for p in picks)
    picks = json_lines(run_cli(path, "--jsonl", "--max-frames", "4", "--fps", "2", "--top", "10", "--min-gap", "0").stdout)
    assert sorted(p["frame"] for p in picks) == [0, 2, 4, 6][: len(picks)]


def test_out_writes_frames_crops_and_manifest(clip, tmp_path):
    path, _ = clip
    proc = run_cli(path, "--out", tmp_path / "out", "--jsonl", "--embeddings")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out" / "clip"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["input"] == str(path) and manifest["kind"] == "video" and manifest["frames_decoded"] == 24
    assert [f["rank"] for f in manifest["faces"]] == [1, 2, 3]
    records = json_lines(proc.stdout)
    assert [set(f) for f in manifest["faces"]] == [set(r) for r in records]  # one set of field names for both
    for face, record in zip(manifest["faces"], records):
        assert face["frame_file"] == Path(record["frame_file"]).name  # the manifest's: beside it; stdout's: as given
        frame, crop = cv2.imread(str(folder / face["frame_file"])), cv2.imread(str(folder / face["crop_file"]))
        assert frame.shape == (360, 480, 3) and crop.shape == (112, 112, 3)
        assert cv2.imread(record["crop_file"]) is not None
    assert manifest["embedding_file"] == "embedding.npy" and manifest["embeddings_file"] == "embeddings.npy"
    mean, each = np.load(folder / "embedding.npy"), np.load(folder / "embeddings.npy")
    assert mean.shape == (128,) and each.shape == (3, 128)
    assert np.linalg.norm(mean) == pytest.approx(1, abs=1e-4)
    from fqselect.faces.sface import SFACE_POINTS

    assert all(float(e @ mean) > SFACE_POINTS["match"] for e in each)  # one person: every pick matches the template
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_per_person_embeddings_follow_the_same_naming_per_person(clip, tmp_path):
    """`embedding.npy` and `embeddings.npy` for the input, or `p00_embedding.npy` and `p00_embeddings.npy`
    for each person with --per-person, each named in the manifest relative to it."""
    path, _ = clip
    proc = run_cli(path, "--out", tmp_path / "out", "-q", "--embeddings", "--per-person", "--top", "2")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "out" / "clip"
    manifest = json.loads((folder / "manifest.json").read_text())
    (person,) = manifest["persons"]
    assert person["embedding_file"] == "p00_embedding.npy" and person["embeddings_file"] == "p00_embeddings.npy"
    assert np.load(folder / person["embedding_file"]).shape == (128,)
    assert np.load(folder / person["embeddings_file"]).shape == (len(person["selected"]), 128)
    assert all(not Path(pick["crop_file"]).is_absolute() and (folder / pick["crop_file"]).is_file() for pick in person["selected"])


def test_existing_output_is_kept_unless_overwrite_and_resume_skips(clip, tmp_path):
    path, _ = clip
    out = tmp_path / "out"
    assert run_cli(path, "--out", out, "-q").returncode == 0
    manifest = out / "clip" / "manifest.json"
    before = manifest.read_text()
    again = run_cli(path, "--out", out)
    assert again.returncode == 1
    assert_clean_error(again, str(path), "exists")
    assert manifest.read_text() == before
    resumed = run_cli(path, "--out", out, "--resume")
    assert resumed.returncode == 0 and "1 skipped" in resumed.stderr
    replaced = run_cli(path, "--out", out, "--overwrite", "--top", "1", "-q")
    assert replaced.returncode == 0
    assert len(json.loads(manifest.read_text())["faces"]) == 1


def test_paths_from_stdin_folder_and_single_image(clip, face_photo, tmp_path):
    path, _ = clip
    folder = tmp_path / "gallery"
    folder.mkdir()
    photo = cv2.imread(str(face_photo))
    for i, sigma in enumerate((6.0, 0.0, 3.0)):  # the sharp copy must win
        cv2.imwrite(str(folder / f"img{i}.jpg"), cv2.GaussianBlur(photo, (0, 0), sigma) if sigma else photo)
    proc = run_cli("-", "--jsonl", "--top", "1", "--scorer", "blur", stdin=f"{path}\n{folder}\n\n{face_photo}\n")
    assert proc.returncode == 0, proc.stderr
    picks = json_lines(proc.stdout)
    assert [Path(p["source"]).name for p in picks] == ["clip.mp4", "img1.jpg", "t1.jpg"]
    assert picks[1]["frame"] == 1 and picks[2]["frame"] == 0 and picks[2]["time"] == 0


def test_bad_inputs_fail_alone_with_one_line_errors(clip, tmp_path):
    path, _ = clip
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(os.urandom(2000))
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp_path / "empty"
    empty.mkdir()
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 127, np.uint8))
    missing = tmp_path / "missing.mp4"
    out = tmp_path / "out"
    proc = run_cli(missing, corrupt, text, empty, blank, path, "--out", out, "--jsonl")
    assert proc.returncode == 1
    assert_clean_error(proc, f"{missing}: no such file", f"{corrupt}: not an image", f"{text}: ",
                       f"{empty}: folder has no images")
    assert f"fqselect: no face: {blank}: no face found" in proc.stderr
    assert [p["source"] for p in json_lines(proc.stdout)] == [str(path)] * 3  # the good input still ran
    assert (out / "clip" / "manifest.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["clip", "failures.jsonl", "run.json"]  # nothing for the bad ones but
    failed = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]  # their record
    assert {f["input"] for f in failed} == {str(missing), str(corrupt), str(text), str(empty), str(blank)}


def test_truncated_video_keeps_what_decodes(clip, tmp_path, make_example):
    path, _ = clip
    avi = tmp_path / "long.avi"  # AVI (MJPG) decodes up to the cut, as surveillance dumps often do
    capture, writer = cv2.VideoCapture(str(path)), cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 4, (480, 360))
    while (frame := capture.read())[0]:
        writer.write(frame[1])
    writer.release()
    data = avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 5])
    proc = run_cli(cut, "--jsonl")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1
    assert f"{cut}: truncated video" in proc.stderr
    assert json_lines(proc.stdout)  # the readable part still gave picks


def test_unwritable_out_is_a_usage_error(clip, tmp_path):
    path, _ = clip
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli(path, "--out", blocker / "sub")
    assert proc.returncode == 2
    assert_clean_error(proc, str(blocker / "sub"))


@pytest.mark.parametrize("args, fragment", [
    ([], "no inputs"),
    (["--embeddings"], "--out"),
    (["--top", "0"], "--top"),
    (["--scorer", "nope"], "unknown scorer"),
    (["--detector", "nope"], "unknown detector"),
    (["--detector", "scrfd"], "--model-pack"),
    (["--model-pack", "/no/such/pack", "--detector", "scrfd"], "not found"),
])
def test_usage_errors_exit_2(clip, args, fragment):
    path, _ = clip
    proc = run_cli(*([] if fragment == "no inputs" else [path]), *args, stdin="" if fragment == "no inputs" else None)
    if fragment == "no inputs":
        proc = run_cli("-", stdin="")
    assert proc.returncode == 2, proc.stderr
    assert fragment in proc.stderr and "Traceback" not in proc.stderr


def test_rotation_metadata_comes_out_upright(clip, tmp_path):
    """A phone video: frames stored landscape with a 90° display matrix must be analysed upright."""
    path, _ = clip
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0  # version-0 track header
    data[at + 44 : at + 80] = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    rotated = tmp_path / "phone.mp4"
    rotated.write_bytes(bytes(data))
    capture = cv2.VideoCapture(str(rotated))
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    ok, frame = capture.read()
    assert ok and frame.shape[:2] == (480, 360)  # portrait after rotation
    picks = json_lines(run_cli(rotated, "--jsonl", "--top", "1").stdout)
    assert picks and picks[0]["quality"] > 0.3  # an upright face, found and scored well
    assert picks[0]["frame_size"] == [360, 480]  # analysed portrait, as OpenCV shows it


def test_help_documents_exit_codes():
    proc = run_cli("select", "--help")
    assert proc.returncode == 0
    assert "Exit codes" in proc.stdout and "--min-gap" in proc.stdout


@pytest.mark.parametrize("variable", ["FQSELECT_THREADS", "FQSELECT_DECODER_THREADS"])
def test_bad_thread_setting_is_a_usage_error(clip, variable):
    path, _ = clip
    proc = run_cli(path, "--jsonl", env={variable: "two"})
    assert proc.returncode == 2
    assert_clean_error(proc, f"{variable}='two'")
    assert proc.stdout == ""


@pytest.mark.parametrize("output", [["--jsonl"], []])
def test_a_reader_that_leaves_early_is_not_an_error(clip, output):
    """`fqselect ... | head -0`, JSON lines or the table: the closed pipe ends the run quietly, exit 0."""
    path, _ = clip
    proc = subprocess.Popen([sys.executable, "-m", "fqselect", str(path), *output, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0
    assert "Traceback" not in stderr and "Exception" not in stderr


@pytest.mark.parametrize("output", [["--jsonl"], []])
def test_a_pipeline_run_never_loads_rich(clip, output):
    """Piped output (JSON lines, or the table as plain aligned columns) draws nothing, so rich (~40 ms of
    imports) is not loaded before the first video."""
    path, _ = clip
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "fqselect", str(path), *output],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "typer" in imported and not [name for name in imported if name.split(".")[0] == "rich"]
    if output:
        assert len(json_lines(proc.stdout)) == 3
    else:
        header, *rows = [line.split() for line in proc.stdout.splitlines()]
        assert header == ["input", "rank", "frame/photo", "score", "quality", "network", "agreement", "eyes", "mouth", "file"]
        assert [row[:2] for row in rows] == [[str(path), "1"], [str(path), "2"], [str(path), "3"]]
        lines = proc.stdout.splitlines()
        rank_column = lines[0].index("rank")
        assert [line[rank_column] for line in lines[1:]] == ["1", "2", "3"]  # aligned under its header


def test_progress_and_notes_on_a_terminal(clip, tmp_path):
    """With stderr on a terminal, rich draws the progress bar, and the one-line notes still come through."""
    path, _ = clip
    leader, follower = os.openpty()
    proc = subprocess.run([sys.executable, "-m", "fqselect", str(path), str(tmp_path / "missing.mp4"), "--jsonl"],
                          stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other side is closed and drained
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    text = terminal.decode(errors="replace")
    assert proc.returncode == 1
    assert len(json_lines(proc.stdout.decode())) == 3
    assert "━" in text  # rich's bar
    assert f"fqselect: error: {tmp_path / 'missing.mp4'}: no such file or folder" in text
    assert "2 inputs: 1 ok" in text


def test_an_image_whose_header_claims_60000_squared_pixels_fails_alone(clip, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    path, _ = clip
    proc = run_cli(str(bomb), str(path), "--jsonl", "--top", "1")
    assert proc.returncode == 1
    assert f"{bomb}: image larger than" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 1  # the clip after it was still processed
    score = run_cli("score", str(bomb))
    assert score.returncode == 1 and "image larger than" in score.stderr


@pytest.mark.parametrize("option", ["--min-gap", "--min-quality", "--window", "--fps", "--start"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_non_finite_numbers_are_usage_errors(clip, option, value):
    path, _ = clip
    proc = run_cli(str(path), option, value)
    assert proc.returncode == 2 and option in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fifos_are_refused_up_front_and_binary_stdin_is_a_usage_error(clip, tmp_path):
    import os

    path, _ = clip
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    proc = run_cli(str(fifo), str(path), "--jsonl", "-q")
    assert proc.returncode == 1 and f"{fifo}: not a regular file or folder" in proc.stderr
    assert len(proc.stdout.splitlines()) >= 1  # the clip after it still gave its picks
    binary = run_cli("-", stdin=path.read_bytes()[:4096].decode("latin-1"))
    assert binary.returncode == 2 and "binary data" in binary.stderr and len(binary.stderr.splitlines()) == 1


def test_no_face_has_its_own_exit_code_and_is_not_a_failure(clip, tmp_path):
    path, _ = clip
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 127, np.uint8))
    proc = run_cli(blank, path, "--top", "1")
    assert proc.returncode == 3, proc.stderr
    assert f"fqselect: no face: {blank}: no face found" in proc.stderr
    assert "1 ok, 0 skipped, 1 without a face, 0 failed" in proc.stderr and "error" not in proc.stderr
    proc = run_cli(path, "--top", "1", "--min-quality", "0.99999")
    assert proc.returncode == 3 and "no face reached --min-quality" in proc.stderr
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"nothing")
    assert run_cli(blank, broken).returncode == 1  # a failure outranks a missing face
    proc = run_cli("score", blank)
    assert proc.returncode == 3 and "no face found" in proc.stderr


def test_csv_has_a_header_and_a_row_per_pick(clip):
    import csv
    import io

    path, _ = clip
    proc = run_cli(path, "--csv", "--top", "2")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 2 and [r["rank"] for r in rows] == ["1", "2"]
    assert float(rows[0]["x2"]) > float(rows[0]["x1"]) and rows[0]["width"] == "480"
    assert len(json.loads(rows[0]["landmarks"])) == 5
    assert run_cli(path, "--csv", "--jsonl").returncode == 2


def test_resume_re_emits_skipped_picks_and_folders_honour_the_umask(clip, tmp_path):
    path, _ = clip
    out = tmp_path / "out"
    old = os.umask(0o027)  # the command inherits it
    try:
        first = run_cli(path, "--out", out, "--jsonl", "--top", "2")
    finally:
        os.umask(old)
    assert (out / "clip").stat().st_mode & 0o777 == 0o750
    again = run_cli(path, "--out", out, "--jsonl", "--top", "2", "--resume")
    assert again.returncode == 0 and "1 skipped" in again.stderr
    assert json_lines(again.stdout) == json_lines(first.stdout)  # stdout complete: the skipped input's picks
