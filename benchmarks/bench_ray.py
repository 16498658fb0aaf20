"""The same batch locally (`--workers 2`) and on a two-node Ray cluster on this machine (one CPU each):
wall time, inputs per second per worker, Ray's scheduling overhead per task, and the driver's peak RSS.

    python benchmarks/bench_ray.py [--clips 16] [--out benchmarks/results/ray.md]

Clips: copies of a generated 640×360 six-face group clip (150 frames). Ray's start-up (the runtime, the
actors loading their models) is timed apart from the batch: `--ray ADDRESS` joins the running cluster,
and its wall time is compared with an empty batch's (one input) to give the per-task cost. The
scheduling overhead per task is measured directly too: a no-op actor call's round trip.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import compile_bytecode, examples_module  # noqa: E402


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds, and the peak RSS (MiB) of the command's process tree as it waits for it (os.wait4): the
    driver and, for a local run, its worker processes; Ray's workers belong to the cluster, not to it."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(stderr.decode(errors="replace"))
    return seconds, usage.ru_maxrss / 1024


def noop_round_trip(address: str, calls: int = 200) -> float:
    import ray

    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")

    @ray.remote(num_cpus=1)
    class Noop:
        def call(self, value):
            return value

    actor = Noop.remote()
    ray.get(actor.call.remote(0))
    started = time.perf_counter()
    for i in range(calls):
        ray.get(actor.call.remote(i))
    seconds = (time.perf_counter() - started) / calls
    ray.shutdown()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray.md")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from ray.cluster_utils import Cluster

    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "group.mp4"
        examples_module().make_group_clip(clip, (640, 360), 150)
        clips = []
        for i in range(args.clips):
            clips.append(Path(tmp) / f"clip{i:03d}.mp4")
            clips[-1].write_bytes(clip.read_bytes())
        command = [sys.executable, "-m", "fqselect", *map(str, clips), "--top", "3", "--jsonl", "-q"]
        local, local_rss = timed(command + ["--workers", "2"])
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        try:
            one, _ = timed([sys.executable, "-m", "fqselect", str(clips[0]), "--top", "3", "--jsonl", "-q", "--ray", cluster.address])
            on_ray, ray_rss = timed(command + ["--ray", cluster.address])
            round_trip = noop_round_trip(cluster.address)
        finally:
            cluster.shutdown()
    per_input = (on_ray - one) / (args.clips - 1)
    lines = [f"{args.clips} copies of a 150-frame 640×360 six-face clip; two workers either way", "",
             "| run | seconds | inputs/s per worker | peak RSS of the command (driver; locally its workers too) |", "| --- | --- | --- | --- |",
             f"| local `--workers 2` | {local:.1f} | {args.clips / local / 2:.2f} | {local_rss:.0f} MiB |",
             f"| Ray, two nodes × 1 CPU (`--ray ADDRESS`) | {on_ray:.1f} | {args.clips / on_ray / 2:.2f} | {ray_rss:.0f} MiB |",
             f"| Ray, one input (start-up: connect, actors load models) | {one:.1f} | | |", "",
             f"Per input on Ray once started: {per_input:.2f} s for two workers; Ray's own round trip for an "
             f"actor call: {1000 * round_trip:.1f} ms (the scheduling overhead per task)."]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
