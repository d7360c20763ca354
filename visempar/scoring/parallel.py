"""Scoring pairs on more than one core, with the same results as on one.

`visempar evaluate` on files spends most of its time aligning pairs, one pair at a time,
each with its own seed. Forked workers take contiguous shares of the pairs and send their
results back through a pipe; the order and the figures are those of a serial run.

Forking is only done where it is safe and pays: on systems with `fork`, with at least two
cores available, for 64 pairs or more, and in a process with a single thread (a fork
copies only the calling thread, so a lock held by another, torch's or pyarrow's, could
never be released in the worker). Anything else, or a worker that fails, falls back to
scoring in this process, so an error is raised here with its own traceback. A worker dies
with its parent (Linux: the parent-death signal), so a killed `evaluate` leaves no orphan.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
MIN_ITEMS = 64


def single_threaded() -> bool:
    """Whether this process runs one thread, native ones included (Linux: /proc/self/task)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: trust only a process without the libraries known to start threads
        return threading.active_count() == 1 and not {"torch", "pyarrow"} & sys.modules.keys()


def default_workers(items: int) -> int:
    """2 where forking is safe and pays (see the module docstring), else 1."""
    if items < MIN_ITEMS or not hasattr(os, "fork") or not single_threaded():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(2, cores)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent ends (elsewhere: nothing)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def in_parallel(fn: Callable[[int], T], items: int, workers: int | None = None) -> list[T]:
    """`[fn(i) for i in range(items)]`, computed by `workers` processes (None: the default)."""
    workers = default_workers(items) if workers is None else max(1, min(workers, items))
    if workers == 1:
        return [fn(i) for i in range(items)]
    import pickle

    bounds = [items * k // workers for k in range(workers + 1)]
    parent = os.getpid()
    children = []
    for k in range(1, workers):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker: its share, pickled into the pipe, then exit without cleanup
            status = 1
            try:
                _die_with_parent(parent)
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    pickle.dump([fn(i) for i in range(bounds[k], bounds[k + 1])], out)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        children.append((pid, read, k))
    results = [fn(i) for i in range(bounds[0], bounds[1])]
    for pid, read, k in children:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        share = pickle.loads(data) if status == 0 and data else None
        results += share if share is not None else [fn(i) for i in range(bounds[k], bounds[k + 1])]
    return results
