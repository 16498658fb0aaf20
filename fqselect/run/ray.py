"""`--ray [ADDRESS]`: the same batch on a Ray cluster (the ray extra). Each input is one call of today's
per-input job (`process_input`) on an actor that loads the models once; the driver (this process)
writes every output folder from what the calls return, so outputs are those of a local run.

- ADDRESS as Ray takes it: `auto` (the cluster this machine belongs to), `ray://host:port`, `host:port`,
  or `local` (a Ray runtime started for this run, on this machine's cores).
- Inputs are paths the workers can read (shared storage, as on any cluster).
- Faults: an actor whose process or node dies is restarted by Ray and its call retried (RETRIES times);
  an input that still fails is reported like any failed input and the others go on.
- Memory: at most IN_FLIGHT_PER_ACTOR calls per actor are in flight, and each result is handed on (and
  written) as soon as its turn in input order comes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
from typing import Callable, Iterator

from ..errors import UsageError
from ..options import Options
from ..records import InputResult

RETRIES = 3  # per input: Ray restarts a dead actor and retries its call this many times
IN_FLIGHT_PER_ACTOR = 2  # calls queued per actor: it starts the next input while the driver writes


def ray_module():
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray: pip install 'fqselect[ray]'") from None
    return ray


def connect(address: str):
    """Join the cluster at `address` (`local`: start a runtime on this machine); the ray module, and
    whether this call connected (rather than finding Ray already initialised by the caller)."""
    ray = ray_module()
    _check_reachable(address)
    started = not ray.is_initialized()
    if started:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports home from a user's cluster
        chatter = io.StringIO()  # Ray's start-up notices (on Python's stderr) name no input: shown only on failure
        try:
            with contextlib.redirect_stderr(chatter), contextlib.redirect_stdout(chatter):
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False, logging_level="ERROR", configure_logging=False)
        except Exception as error:  # Ray raises ConnectionError, RuntimeError, ValueError… for a bad address
            raise UsageError(f"--ray {address}: cannot reach the Ray cluster ({type(error).__name__}: {error})") from None
    return ray, started


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A host:port address answers a TCP connection (Ray itself retries an unreachable one for minutes)."""
    match = re.fullmatch(r"(?:ray://)?\[?([\w.:-]+?)\]?:(\d+)", address)
    if not match:
        return
    try:
        socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout).close()
    except OSError as error:
        raise UsageError(f"--ray {address}: cannot reach the Ray cluster ({error.strerror or error})") from None


class FaceWorker:
    """One Ray actor: the models of one option set, loaded once; one input per call."""

    def __init__(self, options: Options):
        from .bundle import worker_models

        self.options = options
        worker_models(options)

    def analyse(self, path: str) -> InputResult:
        from .job import process_input

        return process_input(path, self.options)


def ray_map(paths: list[str], options: Options, address: str, on_start: Callable[[str], None] | None = None,
            actors: int | None = None) -> Iterator[InputResult]:
    """`process_input` over `paths` on the cluster at `address`; results in input order."""
    ray, started = connect(address)
    count = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
    Actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=RETRIES)(FaceWorker)
    pool = [Actor.remote(options) for _ in range(min(count, len(paths)))]
    pending = list(enumerate(paths))[::-1]
    flying: dict = {}  # object ref -> input index
    done: dict[int, InputResult] = {}
    next_out, turn = 0, 0

    def submit() -> None:
        nonlocal turn
        index, path = pending.pop()
        flying[pool[turn % len(pool)].analyse.remote(path)] = index
        turn += 1
        if on_start:
            on_start(path)

    try:
        while next_out < len(paths):
            while pending and len(flying) < IN_FLIGHT_PER_ACTOR * len(pool):
                submit()
            ready, _ = ray.wait(list(flying), num_returns=1)
            for ref in ready:
                index = flying.pop(ref)
                done[index] = _result(ray, ref, paths[index])
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
    finally:
        for ref in flying:
            ray.cancel(ref, force=True)
        for actor in pool:
            ray.kill(actor)
        if started:  # this run's connection (and a runtime it started) goes with it: its agents would linger
            ray.shutdown()


def _result(ray, ref, path: str) -> InputResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayActorError as error:
        return InputResult(input=path, status="failed",
                           error=f"worker died {RETRIES + 1} times on it ({type(error).__name__}); the other inputs went on")
    except ray.exceptions.RayTaskError as error:
        cause = error.cause if getattr(error, "cause", None) is not None else error
        if isinstance(cause, UsageError):
            raise cause from None
        return InputResult(input=path, status="failed", error=f"could not be analysed ({type(cause).__name__}: {cause})")
