"""The one check of every path a command writes, made before any work.

A command declares what it reads (files and folders) and what it writes (`Output`: a file,
or a folder with the names it writes inside). `check_outputs` then refuses, in a user's
words and naming the option, any output that:

- is one of the inputs, or lies inside an input folder where a file already stands (a
  run's own files), or would take an input with it (a folder the command replaces whole);
- is also another output of the same command (`--json` and `--output` on one file);
- is a folder where a file is written, or a file where a folder is;
- cannot be written: a parent that is a file, or a place where nothing can be created
  (tried with a probe file in the nearest folder that exists, then removed).

A missing parent folder is fine: writers create it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from visempar.errors import VisemparError

PathLike = str | os.PathLike


class OutputError(VisemparError, ValueError):
    """An output path that cannot be used; the message names the option and why."""


@dataclass(frozen=True)
class Output:
    """What one option makes a command write: `path` itself (a file), or with `folder`,
    the files `writes` inside it; `beside` are files written next to a file (`.partial`).
    With `replaces`, the command may delete the folder first (`train --overwrite`)."""

    option: str
    path: PathLike
    folder: bool = False
    writes: tuple[str, ...] = ()
    beside: tuple[str, ...] = ()
    replaces: bool = False

    def files(self) -> list[Path]:
        root = Path(self.path)
        if self.folder:
            return [root / name for name in self.writes]
        return [root, *(root.with_name(root.name + suffix) for suffix in self.beside)]


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _inputs(inputs: Mapping[str, PathLike | Sequence[PathLike] | None]) -> list[tuple[str, Path]]:
    found = []
    for option, given in inputs.items():
        if given is None:
            continue
        for item in ([given] if isinstance(given, (str, os.PathLike)) else given):
            if item is not None:
                found.append((option, Path(item)))
    return found


def _writable(option: str, target: Path) -> None:
    """Refuse a target under a file, or where nothing can be created."""
    probe = target.parent
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputError(f"{option} {target}: {probe} is a file, not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".visempar-probe-", dir=probe)
    except OSError as e:
        raise OutputError(f"{option} {target}: nothing can be written in {probe} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(name)


def check_outputs(inputs: Mapping[str, PathLike | Sequence[PathLike] | None],
                  outputs: Iterable[Output | None]) -> None:
    """Raise `OutputError` for the first output that cannot be used (module docstring).
    `inputs` maps each option (or argument name) to the file or files it makes the
    command read (for a run folder, the files of it that are read: `run_files`)."""
    given = _inputs(inputs)
    claimed: list[tuple[str, Path]] = []
    for out in outputs:
        if out is None or out.path is None:
            continue
        root = Path(out.path)
        if out.folder and root.exists() and not root.is_dir():
            raise OutputError(f"{out.option} {root} is a file; it names a folder to write into")
        if not out.folder and root.is_dir():
            raise OutputError(f"{out.option} {root} is a folder; give the name of a file to write")
        files = out.files()
        for option, source in given:
            if out.replaces and _inside(source, root):
                raise OutputError(f"{out.option} {root} holds {option} {source}, which replacing the folder "
                                  "would delete; choose another folder")
            hit = next((f for f in files if _same(f, source)), None)
            if hit is not None:
                raise OutputError(f"{out.option} {hit} is an input of this command ({option} {source}); "
                                  "choose another path")
        for f in files:
            for option, other in claimed:
                if _same(f, other):
                    raise OutputError(f"{out.option} {f} is also written as {option}; give each its own path")
        claimed.extend((out.option, f) for f in files)
        _writable(out.option, files[0] if files else root / "x")


EVAL_FILES = ("predictions.txt", "per_sentence.json", "per_sentence.csv", "summary.json")  # evaluate --run
RUN_FILES = ("config.yaml", "run.json", "lexicon.json", "summary.json", "metrics.jsonl")


def run_files(run_dir: PathLike | None) -> list[Path]:
    """The files of a run folder that reading the run depends on: a command that reads the
    run must not write over them."""
    if run_dir is None:
        return []
    root = Path(run_dir)
    adapter = root / "adapter"
    return [root / n for n in RUN_FILES] + (sorted(p for p in adapter.iterdir() if p.is_file())
                                            if adapter.is_dir() else [])
