"""Live streams, the way a camera operator runs them: an RTSP server (GStreamer's, started here on
127.0.0.1), an HTTP MPEG-TS stream (FFmpeg's own listener), a file still being written (--follow). A clip
of two people, one after the other, streamed in real time: each person's best shots come out while the
stream runs, soon after they leave; the stream dropping, stalling and coming back; passwords nowhere.

Needs FFmpeg, the talking clips in ../shared, and for RTSP the system Python with GStreamer's RTSP server
(Debian: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad); skipped
cleanly without them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, SHARED, run_cli

FFMPEG = shutil.which("ffmpeg")
SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SERVER = Path(__file__).parent / "servers" / "rtsp_server.py"
VIDEOS = SHARED / "videos"
PASSWORD = "s3cret-Pa55"
CLIP_SECONDS = 10.6  # person A 3.1 s, nobody 2 s, person B 4 s, nobody 1.5 s

pytestmark = pytest.mark.skipif(FFMPEG is None or not (VIDEOS / "talking_d18.mp4").is_file(),
                                reason="needs ffmpeg and ../shared/videos")


def has_rtsp_server() -> bool:
    if not Path(SYSTEM_PYTHON).is_file():
        return False
    check = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return subprocess.run([SYSTEM_PYTHON, "-c", check], capture_output=True).returncode == 0


needs_rtsp = pytest.mark.skipif(not has_rtsp_server(), reason="needs GStreamer's RTSP server for the system Python "
                                                              "(Debian: python3-gi gir1.2-gst-rtsp-server-1.0)")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> dict[str, Path]:
    """Two people one after the other, H.264 with a keyframe a second, as Matroska and as MPEG-TS."""
    work = tmp_path_factory.mktemp("live")
    mkv, ts = work / "two.mkv", work / "two.ts"
    graph = ("[0:v]fps=25,scale=512:512,setsar=1[a];[1:v]setsar=1[b];[2:v]fps=25,scale=512:512,setsar=1[c];"
             "[3:v]setsar=1[d];[a][b][c][d]concat=n=4:v=1:a=0[v]")
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", VIDEOS / "talking_d0.mp4",
                    "-f", "lavfi", "-i", "color=black:s=512x512:r=25:d=2", "-t", "4", "-i", VIDEOS / "talking_d18.mp4",
                    "-f", "lavfi", "-i", "color=black:s=512x512:r=25:d=1.5", "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-g", "25", "-pix_fmt", "yuv420p",
                    mkv], check=True)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", mkv, "-c", "copy", "-f", "mpegts", ts], check=True)
    known = work / "known" / "alex"  # a gallery: person A's face, from another moment of their video
    known.mkdir(parents=True)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-ss", "2.5", "-i", VIDEOS / "talking_d0.mp4", "-frames:v", "1",
                    known / "alex.png"], check=True)
    return {"mkv": mkv, "ts": ts, "gallery": known.parent}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    def __init__(self, port: int, clip: Path):
        self.port, self.clip = port, clip
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen([SYSTEM_PYTHON, str(RTSP_SERVER), str(self.port), str(self.clip)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready", self.process.stderr.read()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def rtsp(clip):
    server = RtspServer(free_port(), clip["mkv"])
    yield server
    server.kill()


class Live:
    """The fqselect command watching a stream: its stdout lines and stderr lines as they come, timed."""

    def __init__(self, *args):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen([sys.executable, "-m", "fqselect", *map(str, args)], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.started = time.monotonic()
        self.out: list[tuple[float, str]] = []
        self.err: list[tuple[float, str]] = []
        for pipe, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._collect, args=(pipe, lines), daemon=True).start()

    def _collect(self, pipe, lines) -> None:
        for line in pipe:
            lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def records(self) -> list[dict]:
        return [json.loads(line) for _, line in self.out]

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"fqselect exited while waiting for {what}: {self.stderr()}"
            assert time.monotonic() < deadline, f"no {what} after {timeout} s: {self.stderr()}"
            time.sleep(0.1)

    def persons_final(self) -> set[int]:
        return {r["person"] for r in self.records() if r["final"]}

    def stderr(self) -> str:
        return "\n".join(line for _, line in self.err)

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        time.sleep(0.2)  # the reader threads take the last lines
        return code


def processes_showing(text: str) -> list[str]:
    """Command lines of this machine's processes that contain `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        if cmdline.parent.name == str(os.getpid()):
            continue
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


@needs_rtsp
def test_rtsp_each_person_comes_out_when_they_leave_and_no_password_shows(rtsp, clip, tmp_path):
    out = tmp_path / "shots"
    url = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{rtsp.port}/cam"
    live = Live(url, "--out", out, "--jsonl", "--leave", "1", "--top", "2", "--gallery", clip["gallery"])
    live.wait_for(lambda: 0 in live.persons_final(), 20, "first person")
    assert processes_showing(f"{rtsp.port}/cam"), "fqselect should be running"
    assert not processes_showing(PASSWORD)  # ps and /proc/PID/cmdline show *** instead
    live.wait_for(lambda: 1 in live.persons_final(), 15, "second person")
    first = min(t for t, line in live.out if json.loads(line)["person"] == 0)
    second = min(t for t, line in live.out if json.loads(line)["person"] == 1)
    assert second - first > 3  # the first person came out when they left, not when the stream ended
    assert live.stop(signal.SIGTERM) == 0
    records = live.records()
    for person, name in ((0, "alex"), (1, "unknown")):
        picks = [r for r in records if r["person"] == person]
        assert {r["identity"] for r in picks} == {name}  # --gallery names people live
        assert [r["rank"] for r in picks] == [1, 2] and all(r["final"] for r in picks)
        assert picks[0]["last_seen"] - picks[0]["first_seen"] > 1.5  # one track through their whole passage
        folder = Path(picks[0]["crop_file"]).parent
        assert folder.parent.parent == out / f"127.0.0.1_{rtsp.port}_cam"  # OUT/<stream>/<day>/p<n>_<time>
        assert folder.name.startswith(f"p{person:05d}_") and (folder / "manifest.json").is_file()
        assert all(Path(r["crop_file"]).is_file() and Path(r["frame_file"]).is_file() for r in picks)
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    assert not any(PASSWORD.encode() in data for data in written)
    assert PASSWORD not in live.stderr() and all(PASSWORD not in line for _, line in live.out)
    assert f"viewer:***@127.0.0.1:{rtsp.port}/cam" in records[0]["stream"]


@needs_rtsp
def test_rtsp_dropped_stalled_and_back(rtsp, tmp_path):
    live = Live(f"rtsp://127.0.0.1:{rtsp.port}/cam", "--jsonl", "--leave", "1", "--timeout", "2", "--top", "1")
    live.wait_for(lambda: "reading" in live.stderr(), 20, "the stream")
    time.sleep(2.0)  # person A in view
    rtsp.kill()
    live.wait_for(lambda: live.persons_final(), 5, "the person in view when the stream dropped")
    time.sleep(2.5)  # several refused reconnections
    assert live.stderr().count("reconnecting") == 1, live.stderr()  # one line per change of state, not per try
    rtsp.start()
    live.wait_for(lambda: live.stderr().count("reading") == 2, 20, "the stream again")
    time.sleep(2.0)
    os.kill(rtsp.process.pid, signal.SIGSTOP)  # a server that hangs: nothing comes, nothing fails
    try:
        live.wait_for(lambda: "stalled" in live.stderr(), 8, "the stall noticed")
        live.wait_for(lambda: len(live.persons_final()) == 2, 3, "the person in view when it stalled")
    finally:
        os.kill(rtsp.process.pid, signal.SIGCONT)
    live.wait_for(lambda: live.stderr().count("reading") == 3, 20, "the stream once more")
    assert live.stop(signal.SIGINT) == 130
    assert "reconnects" in live.err[-2][1] or "reconnects" in live.stderr()  # the last status line


def test_refused_streams_are_one_line_each_and_failed_inputs(tmp_path):
    ports = [free_port(), free_port()]
    urls = [f"rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/cam" for port in ports]
    proc = run_cli(*urls, "--duration", "4", "--jsonl")  # two sources: a worker process each
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    for port in ports:
        mine = [line for line in lines if f":{port}/cam" in line]
        assert sum("Connection refused" in line for line in mine) == 1, proc.stderr
        assert "no frame came from it" in mine[-1]
    assert PASSWORD not in proc.stderr


def test_http_mpegts_stream_running_picks_and_sigterm(clip, tmp_path):
    port = free_port()
    server = subprocess.Popen([FFMPEG, "-v", "error", "-re", "-i", clip["ts"], "-c", "copy", "-f", "mpegts",
                               "-listen", "1", f"http://127.0.0.1:{port}/cam.ts"])
    try:
        live = Live(f"http://127.0.0.1:{port}/cam.ts", "--jsonl", "--leave", "1", "--top", "1", "--emit-every", "1")
        live.wait_for(lambda: 0 in live.persons_final(), 30, "the first person")
        live.wait_for(lambda: any(r["person"] == 1 for r in live.records()), 10, "the second person in view")
        assert live.stop(signal.SIGTERM) == 0  # while the second person is in view
    finally:
        server.kill()
    records = live.records()
    assert [r["person"] for r in records if r["final"]] == [0, 1]  # SIGTERM emitted who was in view
    running = [r for r in records if not r["final"]]
    assert running and running[0]["person"] == 0  # --emit-every: the best so far, while in view
    first_final = next(i for i, r in enumerate(records) if r["final"])
    assert records.index(running[0]) < first_final


def test_follow_a_file_being_written(clip, tmp_path):
    growing = tmp_path / "recording.ts"
    data = clip["ts"].read_bytes()

    def record():
        with open(growing, "wb") as handle:
            for start in range(0, len(data), len(data) // 40):
                handle.write(data[start:start + len(data) // 40])
                handle.flush()
                time.sleep(CLIP_SECONDS / 40 / 2)  # twice as fast as it plays: a followed file sets no pace

    growing.touch()
    writer = threading.Thread(target=record)
    writer.start()
    proc = run_cli(growing, "--follow", "--timeout", "2", "--leave", "1", "--csv", "--top", "2")
    writer.join()
    assert proc.returncode == 0, proc.stderr  # it ends by itself once the file stops growing
    header, *rows = proc.stdout.splitlines()
    person = header.split(",").index("person")
    assert [row.split(",")[person] for row in rows] == ["0", "0", "1", "1"]
    assert "stopped growing" in proc.stderr


def test_live_usage_errors(tmp_path):
    proc = run_cli("rtsp://127.0.0.1:9/cam", ROOT / "examples" / "example.mp4")
    assert proc.returncode == 2 and "cannot be mixed" in proc.stderr
    proc = run_cli("rtsp://127.0.0.1:9/cam", "--report", "--out", tmp_path)
    assert proc.returncode == 2 and "--report" in proc.stderr


def test_python_api_watches_a_stream(clip):
    import fqselect

    records, lines = [], []
    fqselect.watch(str(clip["ts"]), records.append, follow=True, timeout=1.0, leave=1.0, top=1, log=lines.append)
    assert [(r["person"], r["final"]) for r in records] == [(0, True), (1, True)]
    assert any("stopped growing" in line for line in lines)
