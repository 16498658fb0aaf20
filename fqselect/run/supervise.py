"""Supervised worker processes for batches: a native crash (a decoder's segfault on a hostile file) costs
only the input it happened on.

Each worker is a spawned process that loads the models once and then analyses the inputs it is sent,
one at a time. The parent watches every worker's process handle beside its pipe: when a worker dies
holding an input, that input fails with "decoder crashed (signal N)" and a fresh worker takes the next.
Workers die with the parent (Linux: PR_SET_PDEATHSIG; elsewhere they notice the pipe closing), ignore
Ctrl-C (the parent stops them at once and says so in one line), and report progress through the pipe.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Callable, Iterator

from ..errors import UsageError
from ..options import Options
from ..records import InputResult, Progress
from .process import die_with_parent

PROGRESS_EVERY = 0.2  # seconds between a worker's progress messages


def supervised_map(paths: list[str], options: Options, workers: int, progress: Progress | None = None,
                   on_start: Callable[[str], None] | None = None) -> Iterator[InputResult]:
    """`process_input` over `paths` in `workers` supervised processes; results in input order."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")  # no forked onnxruntime or decoder threads
    pool: dict = {}  # connection -> [process, index of the input it holds or None]
    ready = [False]  # has any worker loaded its models? (one that dies before means none can start)
    pending = list(enumerate(paths))[::-1]
    done: dict[int, InputResult] = {}
    next_out = 0

    def start() -> None:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, args=(child_end, options, os.getpid()), daemon=True)
        process.start()
        child_end.close()
        pool[parent_end] = [process, None]

    def feed(connection) -> None:
        pool[connection][1] = None
        if not pending:
            return
        index, path = pending.pop()
        try:
            connection.send((index, path))
        except OSError:  # the worker died just now: the input waits for another (its sentinel reports it)
            pending.append((index, path))
            return
        pool[connection][1] = index
        if on_start:
            on_start(path)

    try:
        for _ in range(min(workers, len(paths))):
            start()
        for connection in list(pool):
            feed(connection)
        while len(done) + next_out < len(paths) or any(slot[1] is not None for slot in pool.values()):
            sentinels = {slot[0].sentinel: connection for connection, slot in pool.items()}
            for event in wait(list(pool) + list(sentinels)):
                connection = sentinels.get(event, event)
                if connection not in pool:
                    continue
                process, index = pool[connection]
                message = _receive(connection)
                if message is None:  # the worker died: its input is the one that killed it
                    process.join()
                    del pool[connection]
                    if not ready[0]:
                        raise UsageError(f"worker processes cannot start (exit code {process.exitcode}); "
                                         "FQSELECT_LIBRARY_MESSAGES=1 shows why")
                    if index is not None:
                        done[index] = _crashed(paths[index], process.exitcode)
                        if pending:
                            start()
                            feed(list(pool)[-1])
                    continue
                kind, payload = message
                if kind == "ready":
                    ready[0] = True
                elif kind == "progress" and progress:
                    progress(*payload)
                elif kind == "usage":
                    raise UsageError(payload)
                elif kind == "result":
                    done[index] = payload
                    feed(connection)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if not pool and pending:  # every worker died between inputs: start over
                start()
                feed(list(pool)[-1])
    finally:
        _stop(pool)


def _receive(connection):
    try:
        return connection.recv() if connection.poll() else None
    except (EOFError, OSError):
        return None


def _crashed(path: str, exitcode: int | None) -> InputResult:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        reason = f"decoder crashed ({name}); the other inputs went on"
    else:
        reason = f"worker process ended unexpectedly (exit code {exitcode}); the other inputs went on"
    return InputResult(input=path, status="failed", error=reason)


def _stop(pool: dict) -> None:
    """Stop every worker now (Ctrl-C, an error, or the end): they hold no output of their own."""
    for connection, (process, _) in pool.items():
        connection.close()
        if process.is_alive():
            process.kill()
    for process, _ in pool.values():
        process.join(1.0)


def _worker(connection, options: Options, parent: int) -> None:
    """A worker's life: models once, then inputs until the parent closes the pipe or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    die_with_parent(parent)
    from .job import process_input
    from .bundle import worker_models
    from .process import keep_freed_memory

    keep_freed_memory()
    try:
        worker_models(options)
    except UsageError as error:
        connection.send(("usage", str(error)))
        return
    connection.send(("ready", None))
    last = [0.0]

    def report(seen: int, planned: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            connection.send(("progress", (seen, planned)))

    while True:
        try:
            index, path = connection.recv()
        except (EOFError, OSError):
            return
        try:
            result = process_input(path, options, report)
        except UsageError as error:
            connection.send(("usage", str(error)))
            return
        connection.send(("result", result))
