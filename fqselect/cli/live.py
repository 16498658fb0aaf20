"""`fqselect rtsp://… http(s)://… /dev/videoN`, or files with --follow: live sources watched until they
end, --duration passes or a signal stops the command, the best shots of every person printed as they
leave. Several sources run each in its own worker process (one dead camera never stalls the others).
SIGINT and SIGTERM stop the watch cleanly: everyone in view is emitted first."""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

from ..urls import is_stream, masked
from ..errors import ExitCode, UsageError
from ..options import LiveOptions, Options, RunOptions
from .render import csv_writer, note

FILE_ONLY = {"report": "--report", "sheet": "--sheet", "resume": "--resume", "ray": "--ray", "workers": "--workers"}


def check_live(paths: list[str], run: RunOptions, live: LiveOptions) -> None:
    """Usage errors particular to live sources."""
    if not live.follow and not all(is_stream(path) for path in paths):
        raise UsageError("live streams and files cannot be mixed in one command (give files --follow to read "
                         "them as streams being written, or run two commands)")
    for name, flag in FILE_ONLY.items():
        if getattr(run, name) not in (None, False):
            raise UsageError(f"{flag} is for files that end; a live stream writes a folder per person as they leave")


def watch_sources(sources: list[str], options: Options, run: RunOptions, live: LiveOptions) -> int:
    """Watch every source until it ends or a signal stops the command; the exit code."""
    stop, signalled = threading.Event(), []

    def on_signal(number, _frame):
        signalled.append(number)
        stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)
    emit, log = _printer(run), _logger(run.quiet)
    if len(sources) == 1:
        from ..run.live import watch

        silent = [] if watch(sources[0], options, live, run.out, emit, log, stop).decoded else sources
    else:
        silent = _watch_in_workers(sources, options, run, live, stop, emit, log)
    for source in silent:
        log(f"error: {masked(source)}: no frame came from it")
    if signal.SIGINT in signalled:
        return ExitCode.INTERRUPTED
    return ExitCode.INPUT_FAILED if silent else ExitCode.OK


def _printer(run: RunOptions) -> Callable[[dict], None]:
    """Each emitted record on stdout at once: JSON (--jsonl), a CSV row (--csv) or a line a person."""
    lock = threading.Lock()
    write = csv_writer() if run.csv else None

    def emit(record: dict) -> None:
        with lock:
            if run.jsonl:
                sys.stdout.write(json.dumps(record) + "\n")
            elif write is not None:
                write(record)
            else:
                sys.stdout.write(_line(record) + "\n")
            sys.stdout.flush()
    return emit


def _line(record: dict) -> str:
    state = "left" if record["final"] else "in view"
    name = f" ({record['identity']})" if record.get("identity") else ""
    where = f"  {record['crop_file']}" if record.get("crop_file") else ""
    return (f"{record['captured_at']}  {record['stream']}  person {record['person']}{name} {state}: "
            f"pick {record['rank']}, quality {record['quality']:.3f}{where}")


def _logger(quiet: bool) -> Callable[[str], None]:
    def log(line: str) -> None:
        if not quiet or line.startswith("error"):
            note(masked(f"fqselect: {line}"))
    return log


def _watch_in_workers(sources: list[str], options: Options, run: RunOptions, live: LiveOptions,
                      stop: threading.Event, emit, log) -> list[str]:
    """A worker process a source (spawned: the URLs travel through a pipe, never a command line); their
    records and lines come back through one queue; a worker that dies is started again. The sources that
    never delivered a frame."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    stops = {source: context.Event() for source in sources}
    workers = {}

    def start(source: str) -> None:
        process = context.Process(target=_worker, args=(source, options, run.out, live, messages, stops[source]),
                                  daemon=True)
        process.start()
        workers[source] = process

    delivered = set()

    def relay(item) -> None:
        kind, payload = item
        if kind == "record":
            emit(payload)
        elif kind == "log":
            log(payload)
        elif payload[1]:  # ("decoded", (source, frames))
            delivered.add(payload[0])

    for source in sources:
        start(source)
    while workers:
        if stop.is_set():
            for event in stops.values():
                event.set()
        try:
            relay(messages.get(timeout=0.2))
        except queue.Empty:
            pass
        for source, process in list(workers.items()):
            if process.is_alive():
                continue
            process.join()
            del workers[source]
            if process.exitcode != 0 and not stop.is_set():
                log(f"error: {masked(source)}: its worker died (exit code {process.exitcode}); starting it again")
                start(source)
    while True:  # what the workers sent last
        try:
            relay(messages.get(timeout=0.5))
        except queue.Empty:
            break
    return [source for source in sources if source not in delivered]


def _worker(source: str, options: Options, out: Path | None, live: LiveOptions, messages, stop) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers, through `stop`
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from ..run.live import watch

    counts = watch(source, options, live, out, lambda record: messages.put(("record", record)),
                   lambda line: messages.put(("log", line)), stop)
    messages.put(("decoded", (source, counts.decoded)))
