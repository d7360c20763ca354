"""From sentences to valid graphs: batched generation and the way back to a graph.

Prompts come from the training prompt builder and are tokenized by the same function
(`visempar.data.encode.prompt_ids`), so inference sees exactly the training context (D3).
Generation is batched with left padding and the KV cache, greedy unless configured.
Every output becomes a valid graph (D1): for `mtup`, task 2 as written, else task 1 with
its variables restored, else the repaired text; each result records the path it took.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import penman

from visempar.amr.concepts import normalize_concepts
from visempar.amr.errors import AMRError
from visempar.amr.graph import to_graph
from visempar.amr.parse import parse_tree
from visempar.amr.repair import repair
from visempar.data.encode import prompt_ids
from visempar.data.prompts import PromptBuilder


@dataclass
class Parsed:
    """A generation turned into a graph, with how it was obtained."""

    graph: penman.Graph
    path: str  # task2 | task1 | direct | repaired | empty
    repairs: list[str] = field(default_factory=list)


@dataclass
class Loaded:
    model: object
    tokenizer: object
    builder: PromptBuilder
    config: object
    run_dir: Path | None


def _strict(text: str | None, variables: bool, concepts: str) -> penman.Graph | None:
    if not text:
        return None
    try:
        graph = to_graph(normalize_concepts(parse_tree(text, variables=variables).tree, concepts))
    except (AMRError, ValueError, penman.exceptions.PenmanError):
        return None
    variables_defined = [t.source for t in graph.instances()]
    return graph if len(set(variables_defined)) == len(variables_defined) else None


def to_graph_result(builder: PromptBuilder, generated: str, concepts: str = "space") -> Parsed:
    """The graph a generation stands for; see the module docstring for the order."""
    parts = builder.parse(generated)
    if builder.variant == "mtup":
        graph = _strict(parts.task2, True, concepts)
        if graph is not None:
            return Parsed(graph, "task2")
        graph = _strict(parts.task1, False, concepts)
        if graph is not None:
            return Parsed(graph, "task1")
    else:
        graph = _strict(parts.task2, True, concepts)
        if graph is not None:
            return Parsed(graph, "direct")
    source = parts.task2 or parts.task1 or parts.raw
    fixed = repair(source, concepts)
    return Parsed(fixed.graph, "empty" if fixed.empty else "repaired", fixed.kinds)


def path_counts(results: Sequence[Parsed]) -> dict:
    return {"paths": dict(Counter(r.path for r in results)),
            "repair_kinds": dict(Counter(k for r in results for k in r.repairs)),
            "needed_repair": sum(r.path in ("repaired", "empty") for r in results)}


def generate(model, tokenizer, builder: PromptBuilder, sentences: Sequence[str], *,
             batch_size: int = 16, max_new_tokens: int = 256, do_sample: bool = False,
             num_beams: int = 1, temperature: float = 1.0, top_p: float = 1.0, seed: int = 0,
             compute_dtype: str = "float32", progress: Callable | None = None) -> list[str]:
    """The completion text for each sentence, in input order; under bf16 autocast when
    `compute_dtype` is bfloat16, as in training."""
    import torch

    encoded = [prompt_ids(tokenizer, builder, s) for s in sentences]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    outputs: list[str] = [""] * len(encoded)
    pad = tokenizer.pad_token_id
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if do_sample else {"do_sample": False}
    if do_sample:
        torch.manual_seed(seed)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]):] = 1
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                             enabled=compute_dtype == "bfloat16"):
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, num_beams=num_beams,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=pad,
                                 use_cache=True, **sampling)
        for row, i in enumerate(idx):
            outputs[i] = tokenizer.decode(out[row, width:], skip_special_tokens=True)
        if progress:
            progress(len(idx))
    if was_training:
        model.train()
    return outputs


def dev_smatch(model, tokenizer, builder: PromptBuilder, examples, *, max_new_tokens: int,
               batch_size: int, concepts: str = "space", compute_dtype: str = "float32") -> dict:
    """Generate, repair and score `examples` (corpus Smatch F1): the evaluation path that
    preflight proves and that model selection reads at every evaluation."""
    from visempar.eval.smatch import score_corpus

    texts = generate(model, tokenizer, builder, [e.sentence or "" for e in examples],
                     batch_size=batch_size, max_new_tokens=max_new_tokens, compute_dtype=compute_dtype)
    parsed = [to_graph_result(builder, t, concepts) for t in texts]
    report = score_corpus([p.graph for p in parsed], [e.graph for e in examples], bootstrap=0)
    return {"f1": report.f1, "generations": texts, "paths": [p.path for p in parsed]}


def load_run(run_dir: str | Path, *, merged: bool = False) -> Loaded:
    """Base + adapter of a finished run (or a merged model directory) for inference."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from visempar.model.build import load_dtype, load_tokenizer, wants_4bit
    from visempar.model.device import set_threads
    from visempar.model.resolve import resolve_model
    from visempar.train.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    set_threads(config.cpu_threads)
    adapter = run_dir / "adapter"
    if not merged and not (adapter / "adapter_config.json").exists():
        raise FileNotFoundError(f"{run_dir}: no trained adapter in {adapter} (did the run complete? "
                                f"see {run_dir / 'summary.json'})")
    tokenizer = load_tokenizer(str(adapter if adapter.exists() else resolve_model(config.model)))
    dtype = getattr(torch, load_dtype(config))
    kwargs: dict = {"dtype": dtype}
    if wants_4bit(config) and not merged:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0}
    base = AutoModelForCausalLM.from_pretrained(resolve_model(config.model), **kwargs)
    if torch.cuda.is_available() and "device_map" not in kwargs:
        base = base.to("cuda")
    from peft import PeftModel

    model = PeftModel.from_pretrained(base, str(adapter))
    if merged:
        model = model.merge_and_unload()
    model.eval()
    return Loaded(model, tokenizer, PromptBuilder(config.variant, tokenizer, config.graph_style),
                  config, run_dir)


def write_report(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
