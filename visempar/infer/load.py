"""A finished run loaded for inference: base model, adapter, tokenizer, prompt builder,
and what the run decided once (compute dtype, token budget), carried with it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from visempar.data.lexicon import Lexicon
from visempar.data.prompts import PromptBuilder
from visempar.errors import VisemparError
from visempar.infer.budget import TokenBudget
from visempar.passes import Passes


class RunDirError(VisemparError, FileNotFoundError):
    """A run directory that holds no usable run."""


@dataclass
class Loaded:
    """A run ready to generate; `compute_dtype` and `budget` are resolved here once."""

    model: object
    tokenizer: object
    builder: PromptBuilder
    config: object
    run_dir: Path | None
    budget: TokenBudget
    compute_dtype: str = "float32"  # float32 | bfloat16, as `model.device.compute_dtype` resolved it
    lexicon: Lexicon | None = None  # the training graphs' word -> concept lexicon (`missing_words`)


def load_run(run_dir: str | Path, *, merged: bool = False, passes: Passes | dict | None = None) -> Loaded:
    """Base + adapter of a finished run for inference, merged and in the compute dtype
    where the base is not quantised (`inference_model`). `merged` is the export: the
    adapter merged into the base as it loads (`model.build.load_dtype`); a 4-bit base is
    first dequantised to fp32, so the merged weights are those the adapter was trained on.
    `passes` overrides the run's passes after decoding (`visempar.passes`: a `Passes`, or
    a mapping of the settings to change, as `--set` gives them), which need no retraining."""
    import torch

    from visempar.model.adapter import merge_lora
    from visempar.model.build import load_base, load_tokenizer, wants_4bit
    from visempar.model.device import compute_dtype, set_threads
    from visempar.model.resolve import resolve_model
    from visempar.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise RunDirError(f"{run_dir}: not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    if passes:
        chosen = passes if isinstance(passes, Passes) else Passes.of(config).updated(passes)
        config = replace(config, passes=chosen.to_dict())
    set_threads(config.cpu_threads)
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").exists():
        raise RunDirError(f"{run_dir}: no trained adapter in {adapter} (did the run complete? "
                                f"see {run_dir / 'summary.json'})")
    tokenizer = _read(adapter, "its tokenizer files", lambda: load_tokenizer(str(adapter)))
    budget, lexicon = run_budget(run_dir, config), run_lexicon(run_dir, config)  # damaged ones: before the model
    quantized = wants_4bit(config)
    dtype = compute_dtype(config.compute_dtype)  # resolved here once, carried on `Loaded`
    base = load_base(resolve_model(config.model), quantized, dtype)
    if merged and quantized:
        base = base.dequantize(dtype=torch.float32)
    if torch.cuda.is_available() and base.device.type != "cuda":
        base = base.to("cuda")
    if not quantized and _read(adapter, "its adapter weights", lambda: merge_lora(base, adapter)):
        model = base  # merged as peft merges it, without loading peft (`visempar.model.adapter`)
        if not merged and dtype == "bfloat16":
            model = model.to(torch.bfloat16)
    else:
        from peft import PeftModel

        model = _read(adapter, "its adapter weights", lambda: PeftModel.from_pretrained(base, str(adapter)))
        if merged:
            model = model.merge_and_unload()
        if not merged and not quantized:
            model = inference_model(model, dtype)
    model.eval()
    return Loaded(model, tokenizer, PromptBuilder.for_config(config, tokenizer), config, run_dir,
                  budget, dtype, lexicon)


def _read(folder: Path, what: str, load):
    """`load()`, with a damaged or incomplete file of a run (truncated weights, missing
    tokenizer files) reported as one `RunDirError` naming the folder, not a library's
    traceback."""
    from safetensors import SafetensorError

    try:
        return load()
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as e:
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise RunDirError(f"{folder}: {what} cannot be read ({type(e).__name__}: {detail}); the run is "
                          "damaged or incomplete: train it again or restore the folder") from None


def inference_model(model, dtype: str):
    """The adapter merged into its (unquantised) base, held in the compute dtype: a CPU
    decoding step of SmolLM2 at batch 16 takes 88 ms instead of 157 ms (no LoRA matmuls,
    no per-step weight casts under autocast). Only for inference: training keeps fp32
    master weights and the adapter apart."""
    import torch

    model = model.merge_and_unload()
    return model.to(getattr(torch, dtype)) if dtype == "bfloat16" else model


def run_lexicon(run_dir: Path, config) -> Lexicon | None:
    """The lexicon fitted on the run's training graphs (`lexicon.json`); for a run trained
    before it was stored, fitted again from its training file when that is still there."""
    stored = run_dir / "lexicon.json"
    if stored.exists():
        return Lexicon.load(stored)
    from visempar.amr.io import read_corpus
    from visempar.data.corpus import sample_path

    train = Path(config.train_data) if config.train_data else sample_path("train")
    return Lexicon.fit(read_corpus(train, on_error="skip").examples) if train.exists() else None


def run_budget(run_dir: Path, config) -> TokenBudget:
    """The run's generation budget: for `max_new_tokens: auto`, the one fitted at training
    time and stored whole in `run.json`; else the configured number."""
    stored = run_dir / "run.json"
    try:
        fitted = json.loads(stored.read_text(encoding="utf-8")).get("token_budget") if stored.exists() else None
    except (ValueError, AttributeError, UnicodeDecodeError) as e:
        raise RunDirError(f"{stored}: not the record visempar wrote ({type(e).__name__}: {e})") from None
    if config.max_new_tokens == "auto" and fitted:
        return TokenBudget.from_dict(fitted)
    return TokenBudget.from_config(config.max_new_tokens, config.max_length)


def overlong_sentences(run_dir: str | Path, sentences: Sequence[str]) -> tuple[int, list[tuple[int, int]]]:
    """The run's `max_length`, and (line, prompt tokens) of each sentence whose prompt alone
    reaches it: the run never saw a graph for a sentence that long, and a prompt past the
    model's positions decodes into garbage. Reads the run's config and tokenizer only, so
    it can warn before the model loads."""
    from visempar.config import load_config
    from visempar.data.encode import prompt_ids
    from visempar.model.build import load_tokenizer

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists() or not (run_dir / "adapter" / "tokenizer_config.json").exists():
        return 0, []  # load_run says what is missing
    config = load_config(run_dir / "config.yaml")
    tokenizer = load_tokenizer(str(run_dir / "adapter"))
    builder = PromptBuilder.for_config(config, tokenizer)
    lengths = ((i + 1, len(prompt_ids(tokenizer, builder, s))) for i, s in enumerate(sentences) if s.strip())
    return config.max_length, [(line, n) for line, n in lengths if n >= config.max_length]
