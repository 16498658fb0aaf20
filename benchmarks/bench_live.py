"""Live streams: how soon each person's record comes out after they leave, what the stream costs, and
whether a long watch stays flat.

  python benchmarks/bench_live.py                 # latency, drops and CPU at 512², 720p and 1080p
  python benchmarks/bench_live.py --soak 30       # 30 minutes on one endless stream: memory, fds, threads

A clip of two people one after the other (talking_d0, then talking_d18, from ../shared/videos) is
streamed in real time by FFmpeg's HTTP listener (`-re`, MPEG-TS, a keyframe a second), looped; `fqselect
URL --jsonl` watches it with its defaults. Latency is from the last analysed frame that showed a person
(its wall-clock time: the record's `captured_at` minus its `time`, plus `last_seen`) to the person's
final record arriving on stdout; the default --leave (2 s) is part of it by design.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FFMPEG = shutil.which("ffmpeg") or "ffmpeg"


def make_clip(videos: Path, work: Path, height: int) -> Path:
    """Person A 3.1 s, nobody 2 s, person B 4 s, nobody 1.5 s; square 512 or 16:9 at `height`."""
    size = "512:512" if height == 512 else f"{height * 16 // 9}:{height}"
    w, h = size.split(":")
    fit = f"fps=25,scale=-2:{h},pad={w}:{h}:(ow-iw)/2:0,setsar=1"
    graph = (f"[0:v]{fit}[a];[1:v]setsar=1[b];[2:v]{fit}[c];[3:v]setsar=1[d];[a][b][c][d]concat=n=4:v=1:a=0[v]")
    out = work / f"two_{height}.ts"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", videos / "talking_d0.mp4",
                    "-f", "lavfi", "-i", f"color=black:s={w}x{h}:r=25:d=2", "-t", "4", "-i", videos / "talking_d18.mp4",
                    "-f", "lavfi", "-i", f"color=black:s={w}x{h}:r=25:d=1.5", "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p", "-f", "mpegts", out],
                   check=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(clip: Path, loops: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/cam.ts"
    server = subprocess.Popen([FFMPEG, "-v", "quiet", "-re", "-stream_loop", str(loops), "-i", clip, "-c", "copy",
                               "-f", "mpegts", "-listen", "1", url])
    return server, url


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def watch(url: str, seconds: float, extra: list[str]) -> dict:
    """fqselect on the stream for `seconds`, then SIGTERM; its records (with arrival times) and status."""
    process = subprocess.Popen([sys.executable, "-m", "fqselect", url, "--jsonl", *extra], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records, status = [], []

    def read_out():
        for line in process.stdout:
            records.append((time.time(), json.loads(line)))

    def read_err():
        for line in process.stderr:
            status.append(line.rstrip())

    threads = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    cpu = cpu_seconds(process.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    for thread in threads:
        thread.join()
    return {"records": records, "status": status, "cpu": cpu, "seconds": seconds}


def latencies(records: list[tuple[float, dict]]) -> list[float]:
    """Seconds from each final person's last analysed sighting to their first final record."""
    found = {}
    for arrived, record in records:
        if not record["final"] or record["person"] in found:
            continue
        captured = datetime.datetime.fromisoformat(record["captured_at"]).timestamp()
        last_seen_wall = captured - record["time"] + record["last_seen"]
        found[record["person"]] = arrived - last_seen_wall
    return list(found.values())


def last_status(lines: list[str]) -> dict:
    line = [x for x in lines if "packets received" in x][-1]
    numbers = {}
    for part in line.split(": ", 2)[-1].replace(";", ",").split(","):
        words = part.split()
        if words and words[0].replace(".", "").isdigit():
            numbers[" ".join(words[1:])] = float(words[0])
        elif words[:1] == ["lag"]:
            numbers["lag"] = float(words[1])
    return numbers


def latency_runs(videos: Path, work: Path) -> list[str]:
    rows = ["| stream | persons | latency median [min–max] s | latency − --leave | packets | decoded | dropped | "
            "analysed | lag at end s | CPU, cores |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for height in (512, 720, 1080):
        clip = make_clip(videos, work, height)
        server, url = serve(clip, loops=2)  # three plays: six people pass
        try:
            run = watch(url, 3 * 10.64 + 6, [])
        finally:
            server.kill()
        found = latencies(run["records"])
        counts = last_status(run["status"])
        name = "512×512" if height == 512 else f"{height * 16 // 9}×{height}"
        rows.append(f"| {name} 25 fps | {len(found)} | {statistics.median(found):.2f} [{min(found):.2f}–{max(found):.2f}] | "
                    f"{statistics.median(found) - 2.0:.2f} | {counts['packets received']:.0f} | "
                    f"{counts['frames decoded']:.0f} | {counts['dropped']:.0f} | {counts['analysed']:.0f} | "
                    f"{counts['lag']:.1f} | {run['cpu'] / run['seconds']:.2f} |")
        print(rows[-1], flush=True)
    return rows


def soak(videos: Path, work: Path, minutes: float) -> list[str]:
    clip = make_clip(videos, work, 720)
    server, url = serve(clip, loops=-1)
    shots = work / "shots"
    process = subprocess.Popen([sys.executable, "-m", "fqselect", url, "--jsonl", "--status-every", "60", "--out", shots],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    persons = []
    threading.Thread(target=lambda: [persons.append(line) for line in process.stdout], daemon=True).start()
    samples = []
    started = time.time()
    try:
        while time.time() - started < minutes * 60:
            time.sleep(30)
            worker = next((p for p in Path("/proc").glob("[0-9]*/stat")
                           if p.read_text().rsplit(")", 1)[1].split()[1] == str(process.pid)), None)
            pid = worker.parent.name if worker else str(process.pid)  # the guarded child does the work
            status = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":\t" in line)
            samples.append((time.time() - started, int(status["VmRSS"].split()[0]) / 1024,
                            len(os.listdir(f"/proc/{pid}/fd")), int(status["Threads"]), len(persons)))
            print(f"{samples[-1][0]:.0f} s: RSS {samples[-1][1]:.1f} MiB, {samples[-1][2]} fds, "
                  f"{samples[-1][3]} threads, {samples[-1][4]} records", flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        server.kill()
    warm_up = min(300.0, minutes * 10)  # five minutes (on a 30-minute soak): models, arenas and caches settled
    warm = next(s for s in samples if s[0] >= warm_up)
    end = samples[-1]
    finals = {json.loads(line)["crop_file"] for line in persons if json.loads(line)["final"]}
    folders = [f for f in shots.glob("*/*/p*") if f.is_dir()]
    complete = sum((f / "manifest.json").is_file() and all(
        (f / p[key]).is_file() for p in json.loads((f / "manifest.json").read_text())["faces"]
        for key in ("crop_file", "frame_file")) for f in folders)
    return ["| after | RSS MiB | open fds | threads | records |", "| --- | --- | --- | --- | --- |",
            *(f"| {s[0] / 60:.1f} min | {s[1]:.1f} | {s[2]} | {s[3]} | {s[4]} |" for s in (samples[0], warm, end)),
            "", f"RSS from {warm[0] / 60:.0f} min to the end: {100 * (end[1] - warm[1]) / warm[1]:+.1f}%; final picks emitted: "
            f"{len(finals)}, all on disk: {all(Path(f).is_file() for f in finals)}; person folders: {len(folders)}, "
            f"complete (manifest and every file it lists): {complete}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="one long watch instead of the latency runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.soak:
            rows = soak(args.shared / "videos", Path(work), args.soak)
            title = f"# A {args.soak:g}-minute watch (`python benchmarks/bench_live.py --soak {args.soak:g}`)"
            out = args.out or ROOT / "benchmarks" / "results" / "live_soak.md"
        else:
            rows = latency_runs(args.shared / "videos", Path(work))
            title = "# Live streams: latency, drops, CPU (`python benchmarks/bench_live.py`)"
            out = args.out or ROOT / "benchmarks" / "results" / "live.md"
    text = "\n".join([title, "", f"{os.cpu_count()} cores; fqselect's defaults; HTTP MPEG-TS from FFmpeg -re on "
                      "127.0.0.1; two people pass per 10.6 s of clip.", "", *rows, ""])
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
