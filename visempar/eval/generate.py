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
from visempar.amr.dedupe import drop_repeated_siblings
from visempar.amr.graph import to_graph, to_tree
from visempar.amr.parse import parse_tree
from visempar.amr.repair import repair
from visempar.data.encode import prompt_ids
from visempar.data.prompts import PromptBuilder
from visempar.errors import VisemparError
from visempar.eval.decode import Decoded, TokenBudget, decode, left_padded


class RunDirError(VisemparError, FileNotFoundError):
    """A run directory that holds no usable run."""


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
    budget: TokenBudget


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
    """The graph a generation stands for (see the module docstring for the order), with
    repeated sibling subtrees cut to one copy."""
    parsed = _graph_result(builder, generated, concepts)
    tree, dropped = drop_repeated_siblings(to_tree(parsed.graph))
    if dropped:
        parsed = Parsed(to_graph(tree), parsed.path, [*parsed.repairs, "repeated-subtree"])
    return parsed


def _graph_result(builder: PromptBuilder, generated: str, concepts: str) -> Parsed:
    parts = builder.parse(generated)
    if builder.variant == "mtup":
        graph = _strict(parts.task2, True, concepts)
        if graph is not None:
            return Parsed(graph, "task2")
        graph = _strict(parts.task1, False, concepts)
        if graph is not None:
            return Parsed(graph, "task1")
    else:
        graph = _strict(parts.task2, builder.variables, concepts)
        if graph is not None:
            return Parsed(graph, "direct")
    source = parts.task2 or parts.task1 or parts.raw
    fixed = repair(source, concepts)
    return Parsed(fixed.graph, "empty" if fixed.empty else "repaired", fixed.kinds)


def path_counts(results: Sequence[Parsed]) -> dict:
    return {"paths": dict(Counter(r.path for r in results)),
            "repair_kinds": dict(Counter(k for r in results for k in r.repairs)),
            "needed_repair": sum(r.path in ("repaired", "empty") for r in results)}


@dataclass
class Generated:
    """A completion's text, how many tokens the model produced, and why it stopped."""

    text: str
    reason: str
    tokens: int


def generate(model, tokenizer, builder: PromptBuilder, sentences: Sequence[str], *,
             batch_size: int = 16, budget: TokenBudget | int = 256, stopping: bool = True,
             do_sample: bool = False, num_beams: int = 1, temperature: float = 1.0,
             top_p: float = 1.0, seed: int = 0, compute_dtype: str = "float32",
             progress: Callable | None = None) -> list[Generated]:
    """The completion for each sentence, in input order, under bf16 autocast when
    `compute_dtype` is bfloat16, as in training. With `stopping` (the default), rows stop
    where the graph ends (`visempar.eval.decode`); without it, or with beam search, they
    run to EOS or the budget through `model.generate`."""
    import torch

    budget = budget if isinstance(budget, TokenBudget) else TokenBudget(budget)
    encoded = [prompt_ids(tokenizer, builder, s) for s in sentences]
    limits = [budget.limit(len(tokenizer(s, add_special_tokens=False)["input_ids"])) for s in sentences]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    outputs: list[Generated] = [Generated("", "eos", 0)] * len(encoded)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed) if do_sample else None
    pieces: dict[int, str] = {}

    def piece(token: int) -> str:
        if token not in pieces:
            pieces[token] = tokenizer.decode([token], skip_special_tokens=True)
        return pieces[token]

    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                             enabled=compute_dtype == "bfloat16"):
            if stopping and num_beams == 1:
                rows = decode(model, [encoded[i] for i in idx], [limits[i] for i in idx],
                              variant=builder.variant, pad_id=tokenizer.pad_token_id,
                              eos_ids={tokenizer.eos_token_id}, piece=piece, do_sample=do_sample,
                              temperature=temperature, top_p=top_p, generator=generator)
            else:
                rows = _generate_fixed(model, tokenizer, [encoded[i] for i in idx],
                                       max(limits[i] for i in idx), num_beams, do_sample,
                                       temperature, top_p, seed + start)
        for i, row in zip(idx, rows):
            outputs[i] = Generated(tokenizer.decode(row.tokens, skip_special_tokens=True),
                                   row.reason, row.generated)
        if progress:
            progress(len(idx))
    if was_training:
        model.train()
    return outputs


def _generate_fixed(model, tokenizer, prompts, max_new_tokens, num_beams, do_sample,
                    temperature, top_p, seed) -> list[Decoded]:
    """`model.generate` on one left-padded batch, to EOS or `max_new_tokens`."""
    import torch

    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    ids, mask = left_padded(prompts, pad, next(model.parameters()).device)
    width = ids.shape[1]
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if do_sample else {"do_sample": False}
    if do_sample:
        torch.manual_seed(seed)
    out = model.generate(input_ids=ids, attention_mask=mask,
                         max_new_tokens=max_new_tokens, num_beams=num_beams, eos_token_id=eos,
                         pad_token_id=pad, use_cache=True, **sampling)
    rows = []
    for row in out[:, width:].tolist():
        ended = eos in row
        tokens = row[:row.index(eos)] if ended else row
        rows.append(Decoded(tokens, "eos" if ended else "limit", len(tokens)))
    return rows


def generation_counts(generated: Sequence[Generated]) -> dict:
    """Tokens generated and rows stopped by each rule."""
    return {"tokens_generated": sum(g.tokens for g in generated),
            "stopped_by": {r: n for r, n in Counter(g.reason for g in generated).most_common()}}


def dev_smatch(model, tokenizer, builder: PromptBuilder, examples, *, budget: TokenBudget | int,
               batch_size: int, concepts: str = "space", compute_dtype: str = "float32") -> dict:
    """Generate, repair and score `examples` (corpus Smatch F1): the evaluation path that
    preflight proves and that model selection reads at every evaluation."""
    from visempar.amr.format import format_graph
    from visempar.eval.files import score_texts

    generated = generate(model, tokenizer, builder, [e.sentence or "" for e in examples],
                         batch_size=batch_size, budget=budget, compute_dtype=compute_dtype)
    parsed = [to_graph_result(builder, g.text, concepts) for g in generated]
    report, _ = score_texts([format_graph(p.graph) for p in parsed],
                            [e.text or format_graph(e.graph) for e in examples], bootstrap=0,
                            gold_graphs=[e.graph for e in examples])
    return {"f1": report.f1, "generations": [g.text for g in generated],
            "paths": [p.path for p in parsed], **generation_counts(generated)}


def load_run(run_dir: str | Path, *, merged: bool = False) -> Loaded:
    """Base + adapter of a finished run for inference, merged and in the compute dtype
    where the base is not quantised (`inference_model`). `merged` is the export: the
    adapter merged into an fp32 base; a 4-bit base is first dequantised, so the merged
    weights are those the adapter was trained on."""
    import torch
    from peft import PeftModel

    from visempar.model.build import load_base, load_tokenizer, wants_4bit
    from visempar.model.device import compute_dtype, set_threads
    from visempar.model.resolve import resolve_model
    from visempar.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise RunDirError(f"{run_dir}: not a run directory (no config.yaml)")
    config = load_config(run_dir / "config.yaml")
    set_threads(config.cpu_threads)
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").exists():
        raise RunDirError(f"{run_dir}: no trained adapter in {adapter} (did the run complete? "
                                f"see {run_dir / 'summary.json'})")
    tokenizer = load_tokenizer(str(adapter))
    quantized = wants_4bit(config)
    base = load_base(config, resolve_model(config.model), quantized)
    if merged and quantized:
        base = base.dequantize(dtype=torch.float32)
    if torch.cuda.is_available() and base.device.type != "cuda":
        base = base.to("cuda")
    model = PeftModel.from_pretrained(base, str(adapter))
    if merged:
        model = model.merge_and_unload()
    elif not quantized:
        model = inference_model(model, compute_dtype(config.compute_dtype))
    model.eval()
    return Loaded(model, tokenizer, PromptBuilder.for_config(config, tokenizer), config, run_dir, run_budget(run_dir, config))


def inference_model(model, dtype: str):
    """The adapter merged into its (unquantised) base, held in the compute dtype: a CPU
    decoding step of SmolLM2 at batch 16 takes 88 ms instead of 157 ms (no LoRA matmuls,
    no per-step weight casts under autocast). Only for inference: training keeps fp32
    master weights and the adapter apart."""
    import torch

    model = model.merge_and_unload()
    return model.to(getattr(torch, dtype)) if dtype == "bfloat16" else model


def run_budget(run_dir: Path, config) -> TokenBudget:
    """The run's generation budget: fitted at training time (`run.json`) for `auto`."""
    stored = run_dir / "run.json"
    fitted = json.loads(stored.read_text()).get("token_budget", {}) if stored.exists() else {}
    return TokenBudget.from_config(config.max_new_tokens, config.max_length, fitted.get("ratio"))

