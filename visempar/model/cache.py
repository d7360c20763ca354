"""Visempar's model cache: models it builds or converts once (the tiny model, GGUF files)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """`$VISEMPAR_CACHE`, else `~/.cache/visempar`."""
    env = os.environ.get("VISEMPAR_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "visempar"


def cached_build(target: Path, marker: str, build) -> Path:
    """`target`, built by `build(directory)` on first use: in a temporary directory beside
    it, moved into place in one rename, so that a crash never leaves a half-built model
    and two processes building at once both end with the one that won."""
    if (target / marker).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / marker).exists():  # not a concurrent build that won
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
