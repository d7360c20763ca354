"""Checkpoints a resume can trust: committed with a record of every file, verified on use.

A checkpoint folder counts only once its commit record exists: `visempar-complete.json`,
written atomically after every file of the checkpoint was written and fsynced, listing
each file with its size and SHA-256. `--resume` verifies the record against the files and
goes on from the newest checkpoint that verifies, saying which torn ones it skipped (a
disk that filled, a file truncated or damaged after the save). Rotation deletes old
checkpoints only after the new one is committed, and never the newest verified one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from visempar.errors import VisemparError
from visempar.reports import write_json

COMPLETE = "visempar-complete.json"


class CheckpointError(VisemparError, OSError):
    """A checkpoint that could not be written (a full disk, a read-only folder)."""


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != COMPLETE)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
        os.fsync(fh.fileno())  # the bytes are on disk before the record vouches for them
    return h.hexdigest()


def commit(folder: Path, **extra) -> None:
    """Write the commit record of a fully written checkpoint `folder`."""
    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _digest(p)}
             for p in _files(folder)}
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    write_json(folder / COMPLETE, {**extra, "files": files}, indent=None)


def problem(folder: Path) -> str | None:
    """Why `folder` cannot be trusted, or None when its record verifies. A record without
    a file list (written before files were recorded) is trusted as complete."""
    try:
        record = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no commit record (the save did not finish)"
    except (OSError, ValueError) as e:
        return f"unreadable commit record ({e})"
    for name, want in record.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != want["size"]:
            return f"{name} has {path.stat().st_size} bytes, {want['size']} were committed"
        if _digest(path) != want["sha256"]:
            return f"{name} differs from the committed bytes"
    return None


def committed(checkpoints_dir: Path) -> list[Path]:
    """Checkpoints with a commit record, oldest first (not yet verified)."""
    found = [p for p in checkpoints_dir.glob("checkpoint-*") if (p / COMPLETE).exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def newest_verified(checkpoints_dir: Path, log: Callable[[str], object] = print) -> Path | None:
    """The newest committed checkpoint whose files match its record; each newer one that
    does not is named in one line."""
    for folder in reversed(committed(checkpoints_dir)):
        why = problem(folder)
        if why is None:
            return folder
        log(f"--resume: skipping {folder.name}: {why}")
    return None


def rotate(checkpoints_dir: Path, limit: int | None, keep: set[Path] = frozenset()) -> None:
    """Delete the oldest checkpoints beyond `limit`, never the newest committed one nor
    those in `keep` (the best model's); a folder without a record counts as one too."""
    if not limit:
        return
    folders = sorted((p for p in checkpoints_dir.glob("checkpoint-*") if p.is_dir()),
                     key=lambda p: int(p.name.split("-")[1]))
    newest = committed(checkpoints_dir)[-1:]
    protected = {p.resolve() for p in [*newest, *keep]}
    extra = len(folders) - max(limit, len(protected))
    for folder in folders:
        if extra <= 0:
            break
        if folder.resolve() not in protected:
            shutil.rmtree(folder, ignore_errors=True)
            extra -= 1
