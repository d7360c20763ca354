"""What `--model` names, as a directory transformers can load.

`tiny` (built offline), `smollm2` (converted from the bundled GGUF), a `.gguf` file
(converted once), a local directory, or a hub name. A hub name that is not in the HF cache
needs the network; without one it fails in seconds with the offline choices, instead of
after transformers' retries.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from visempar.config import ConfigError

OFFLINE_CHOICES = ("a local model directory, a .gguf file, `smollm2` (SmolLM2-135M-Instruct, "
                   "bundled) or `tiny` (built offline)")


class ModelSourceError(ConfigError):
    """A `--model` that names nothing loadable here; the message says what would work."""


def resolve_model(name: str) -> str:
    """The local directory (or a cached hub name) that `name` stands for."""
    if name == "tiny":
        from visempar.model.tiny import tiny_model_path

        return str(tiny_model_path())
    if name == "smollm2" or name.endswith(".gguf"):
        from visempar.model.gguf import GGUFError, gguf_model_path, smollm2_file

        try:
            return str(gguf_model_path(smollm2_file() if name == "smollm2" else name))
        except GGUFError as e:
            raise ModelSourceError(str(e)) from None
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelSourceError(f"model {name}: the directory has no config.json, so it is not "
                                   "an HF model (a GGUF file is given as the .gguf file itself)")
        return str(path)
    if name.startswith((".", "/", "~")) or path.exists():
        raise ModelSourceError(f"model {name}: no such directory; use {OFFLINE_CHOICES}")
    check_hub_reachable(name)
    return name


def _in_hf_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:  # an invalid repo id: let transformers explain
        return False


def _offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_hub_reachable(name: str, timeout: float = 5.0) -> None:
    """Raise `ModelSourceError` unless `name` is cached or the hub answers a connection."""
    if _in_hf_cache(name):
        return
    if _offline():
        raise ModelSourceError(f"model {name}: not in the HF cache and HF_HUB_OFFLINE is set; "
                               f"use {OFFLINE_CHOICES}")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise ModelSourceError(f"model {name}: not in the HF cache and the hub ({host}) cannot be "
                               f"reached ({e.strerror or e}); use {OFFLINE_CHOICES}") from None
