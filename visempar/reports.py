"""Writing what visempar reports (JSON reports, run records, markers), whole or not at all.

A reader (a resumed run, another rank, a user's script) never sees half a file: the text
goes to a hidden file beside the target, reaches the disk, and replaces the target in
one rename.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` in one rename, creating its directory. A symlink is
    written through: its target gets the text, the link stays."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: str | Path, payload, *, indent: int | None = 2) -> None:
    """`payload` as UTF-8 JSON (non-ASCII kept readable), written atomically."""
    write_atomic(path, json.dumps(payload, indent=indent, ensure_ascii=False) + "\n")
