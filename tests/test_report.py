"""The visual report: report.html and contact_sheet.png from a run, rebuilt by `fqselect report`, and
rendered by a real headless browser (Debian's Chromium; skipped where it is not installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile

import cv2
import numpy as np
import pytest

from conftest import ROOT, assert_clean_error, run_cli

EXAMPLE = ROOT / "examples" / "example.mp4"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report_run(tmp_path_factory, face_photo):
    """A clip, a folder of two photos and a broken file, run with --report --top 2."""
    work = tmp_path_factory.mktemp("report")
    photos = work / "photos"
    photos.mkdir()
    image = cv2.imread(str(face_photo))
    cv2.imwrite(str(photos / "first.jpg"), image)
    cv2.imwrite(str(photos / "second.jpg"), cv2.resize(image, None, fx=0.6, fy=0.6))
    (work / "broken.jpg").write_bytes(b"not an image")
    out = work / "out"
    proc = run_cli(EXAMPLE, photos, work / "broken.jpg", "--top", "2", "--out", out, "--report")
    assert proc.returncode == 1, proc.stderr  # the broken file failed; the others ran
    return out


def test_report_and_sheet_are_written(report_run):
    page = (report_run / "report.html").read_text()
    assert page.count("<img class='crop'") == 4 and page.count("alt='frame'") == 4  # 2 picks × 2 inputs
    assert "broken.jpg" in page and "not an image OpenCV can decode" in page  # failures listed with reasons
    assert "first.jpg" in page or "second.jpg" in page  # folder picks by file name
    assert "<svg class='strip'" in page  # the clip's quality-over-time strip
    for source in re.findall(r"src='([^']+)'", page):
        assert (report_run / source).is_file(), source  # every image linked relatively, beside the page
    sheet = cv2.imread(str(report_run / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] >= 2 * 112 and sheet.std() > 10


def test_report_command_rebuilds_from_manifests(report_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(report_run, copy)
    (copy / "report.html").unlink()
    (copy / "contact_sheet.png").unlink()
    proc = run_cli("report", copy)
    assert proc.returncode == 0, proc.stderr
    assert (copy / "report.html").read_text() == (report_run / "report.html").read_text()
    assert (copy / "contact_sheet.png").is_file()
    proc = run_cli("report", tmp_path / "nothing")
    assert proc.returncode == 2
    assert_clean_error(proc, "nothing")


def chromium(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="fqselect-chromium-")
    try:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={profile}", "--hide-scrollbars", *args],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
def test_report_renders_in_a_headless_browser(report_run, tmp_path):
    url = (report_run / "report.html").as_uri()
    dom = chromium("--virtual-time-budget=10000", "--dump-dom", url).stdout
    shown = re.search(r'data-images-shown="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert shown and total, dom[:500]
    assert int(shown.group(1)) == int(total.group(1)) == 8  # every image loaded from disk
    assert 'data-width="fits"' in dom
    narrow = chromium("--virtual-time-budget=10000", "--window-size=480,1400", "--dump-dom", url).stdout
    assert 'data-width="fits"' in narrow  # a phone-wide window needs no sideways scrolling
    for width in (1400, 480):
        shot = tmp_path / f"report-{width}.png"
        chromium(f"--window-size={width},1400", f"--screenshot={shot}", url)
        image = cv2.imread(str(shot))
        assert image is not None and image.shape[:2] == (1400, width)
        assert image.std() > 30  # not a blank page
        assert (np.abs(image.astype(int) - 250).sum(axis=2) > 60).mean() > 0.1  # a tenth of it is picture, not paper


def test_the_page_says_what_ran_and_links_every_image_to_its_file(report_run):
    page = (report_run / "report.html").read_text()
    assert "fqselect" in page and "Last run" in page and "options:" in page and "models:" in page
    images = re.findall(r"<img[^>]*src='([^']+)'", page)
    links = re.findall(r"<a href='([^']+)'", page)
    assert images and all(image in links for image in images)  # each image opens its full-size file
    assert "0.999" in page and "0 s" in page  # the quality strip's axes are labelled


def test_the_index_shows_the_first_picks_score_and_quality(report_run):
    """The index's "first pick" is the rank-1 pick's ranking score and quality (it once showed the best
    quality of any pick, which rank 1 need not have)."""
    page = (report_run / "report.html").read_text()
    manifest = json.loads((report_run / "example" / "manifest.json").read_text())
    first = manifest["faces"][0]
    assert first["rank"] == 1
    assert f"data-label='first pick'>{first['score']:.2f}, {first['quality']:.3f}</td>" in page


def test_the_contact_sheet_captions_each_crop_with_its_score_where_the_run_gave_one():
    from fqselect.output.sheet import caption

    assert caption({"quality": 0.9991, "score": 14.563}) == "score 14.6"
    assert caption({"quality": 0.9991, "score": None}) == "quality 0.999"
