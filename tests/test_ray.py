"""--ray: the same batch on a Ray runtime started for the run, and on a two-node Ray cluster on this
machine (ray.cluster_utils.Cluster: a head and a second node, each with its own CPU), with outputs equal
to a plain local run's, and a worker killed mid-batch losing nothing. Skipped without the [ray] extra."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, json_lines, run_cli

ray = pytest.importorskip("ray", reason="needs the [ray] extra")
EXAMPLE = ROOT / "examples" / "example.mp4"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("ray-inputs")  # shared storage: the same disk for every node here
    paths = []
    for i in range(6):
        paths.append(folder / f"clip{i}.mp4")
        paths[-1].write_bytes(EXAMPLE.read_bytes())
    (folder / "broken.mp4").write_bytes(b"not a video")
    return paths + [folder / "broken.mp4"]


def outputs(out: Path) -> dict:
    """Every output folder's manifest, without what differs between runs by nature (paths, options)."""
    found = {}
    for manifest in sorted(out.glob("*/manifest.json")):
        entry = json.loads(manifest.read_text())
        faces = [{k: v for k, v in face.items() if k not in ("frame_file", "crop_file")} for face in entry["faces"]]
        found[manifest.parent.name] = (faces, sorted(p.name for p in manifest.parent.iterdir()))
    return found


@pytest.fixture(scope="module")
def local_run(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    proc = run_cli(*inputs, "--top", "2", "--out", out, "--jsonl")
    assert proc.returncode == 1, proc.stderr  # broken.mp4
    return out, json_lines(proc.stdout)


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes
    nodes.shutdown()


def test_a_local_ray_runtime_gives_the_local_outputs(inputs, local_run, tmp_path):
    out = tmp_path / "out"
    proc = run_cli(*inputs, "--top", "2", "--out", out, "--jsonl", "--ray")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and all(line.startswith("fqselect") for line in proc.stderr.splitlines() if line)
    assert outputs(out) == outputs(local_run[0])
    assert [r["source"] for r in json_lines(proc.stdout)] == [r["source"] for r in local_run[1]]  # input order


def _worker_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"FaceWorker" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_a_two_node_cluster_survives_a_killed_worker(inputs, local_run, cluster, tmp_path):
    killed = []

    def kill_one_worker() -> None:  # as soon as an actor is at work, SIGKILL it: Ray restarts it and retries
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            pids = _worker_pids()
            if pids:
                time.sleep(1.0)
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    out = tmp_path / "out"
    proc = run_cli(*inputs, "--top", "2", "--out", out, "--jsonl", "--ray", cluster.address)
    killer.join()
    assert killed, "no worker was seen at work"
    assert proc.returncode == 1, proc.stderr  # broken.mp4 only
    assert outputs(out) == outputs(local_run[0])  # nothing lost to the kill
    assert "broken.mp4" in proc.stderr and "6 ok" in proc.stderr


def test_without_a_cluster_at_the_address_it_is_one_usage_error(inputs):
    proc = run_cli(inputs[0], "--ray", "127.0.0.1:1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "cannot reach the Ray cluster" in proc.stderr
