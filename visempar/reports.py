"""Writing what visempar reports (JSON reports, run records, markers), whole or not at all.

A reader (a resumed run, another rank, a user's script) never sees half a file: the text
goes to a hidden file beside the target, reaches the disk, and replaces the target in
one rename.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Replace `path` with `text` (or bytes) in one rename, creating its directory. A
    symlink is written through: its target gets the text, the link stays. When the write
    fails (a full disk), the hidden file is removed, `path` keeps what it held, and the
    `OSError` names `path`."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    tmp = path.with_name(f".{path.name}.tmp")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


def write_json(path: str | Path, payload, *, indent: int | None = 2) -> None:
    """`payload` as UTF-8 JSON (non-ASCII kept readable), written atomically."""
    write_atomic(path, json.dumps(payload, indent=indent, ensure_ascii=False) + "\n")
