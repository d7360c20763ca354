"""One writer per output: a lock file holding the writer's process id.

Two `predict` runs into one file, or two `train` runs into one folder, would interleave
their writes and both report success. The first writer creates `NAME.lock` (exclusively,
so two cannot both succeed); a second is refused with the holder's process id. A lock left
by a process that no longer runs (kill -9, a lost machine) is taken over, with a line
saying so.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from visempar.errors import VisemparError


class LockedError(VisemparError):
    """Another live process writes the same output."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class OutputLock:
    """`with OutputLock(path, what):` holds `path` for this process (a context manager)."""

    def __init__(self, path: str | Path, what: str, log: Callable[[str], object] = print):
        self.path, self.what, self.log = Path(path), what, log
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
                holder = self._holder()
                if holder is not None and holder != os.getpid() and _alive(holder):
                    raise LockedError(f"{self.what} is being written by process {holder} (lock "
                                      f"{self.path}); wait for it to end, or stop it") from None
                self.log(f"{self.what}: taking over the lock {self.path} of process {holder}, "
                         "which no longer runs")
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            self.held = True
            return
        raise LockedError(f"{self.what}: could not take the lock {self.path}")

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held and self._holder() == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
