"""One writer per output: a kernel lock on a file beside it.

Two `predict` runs into one file, or two `train` (or `evaluate --run`) runs into one
folder, would interleave their writes and both report success. The first writer takes an
exclusive `flock` on `NAME.lock` and writes its process id there; a second is refused,
named the holder. The kernel releases the lock when its holder ends in any way (kill -9
included), so a lock never outlives its writer, whatever process later gets the same id;
a file left by a writer that is gone is taken over, with a line saying so.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from visempar.errors import VisemparError


class LockedError(VisemparError):
    """Another live process writes the same output."""


class OutputLock:
    """`with OutputLock(path, what):` holds `path` for this process (a context manager)."""

    def __init__(self, path: str | Path, what: str, log: Callable[[str], object] = print):
        self.path, self.what, self.log = Path(path), what, log
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise LockedError(f"{self.what} is being written by process {holder or 'unknown'} (lock "
                                  f"{self.path}); wait for it to end, or stop it") from None
            if not _same_file(fd, self.path):  # unlinked by a writer that just finished: take the new one
                os.close(fd)
                continue
            left = _read_pid(fd)
            if left is not None and left != os.getpid():
                self.log(f"{self.what}: taking over the lock {self.path} of process {left}, which no longer runs")
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
            except OSError:  # a full disk: the kernel lock holds without the id it names
                pass
            self.fd = fd
            return
        raise LockedError(f"{self.what}: could not take the lock {self.path}")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if _same_file(self.fd, self.path):
                self.path.unlink(missing_ok=True)  # unlinked while held: a waiting writer retries
        finally:
            os.close(self.fd)  # closing releases the flock
            self.fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except OSError:
        return False
