"""Batched generation: prompts built and tokenized as in training, completions decoded.

Prompts come from the training prompt builder and are tokenized by the same function
(`visempar.data.encode.prompt_ids`), so inference sees exactly the training context (D3).
Generation is batched with left padding and the KV cache, greedy unless configured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from visempar.data.encode import prompt_ids
from visempar.data.prompts import PromptBuilder
from visempar.infer.budget import TokenBudget
from visempar.infer.decode import Decoded, decode, left_padded
from visempar.infer.graphs import to_graph_result
from visempar.passes import NO_PASSES, Passes


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
    where the graph ends (`visempar.infer.decode`); without it, or with beam search, they
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

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=compute_dtype == "bfloat16")
    if stopping and num_beams == 1:  # one decoding whose `batch_size` slots refill as rows stop
        with torch.no_grad(), autocast:
            rows = decode(model, [encoded[i] for i in order], [limits[i] for i in order],
                          variant=builder.variant, pad_id=tokenizer.pad_token_id,
                          eos_ids={tokenizer.eos_token_id}, piece=piece, do_sample=do_sample,
                          temperature=temperature, top_p=top_p, generator=generator, slots=batch_size,
                          progress=progress)
        for i, row in zip(order, rows):
            outputs[i] = Generated(tokenizer.decode(row.tokens, skip_special_tokens=True), row.reason,
                                   row.generated)
    for start in range(0, len(order), batch_size) if not (stopping and num_beams == 1) else ():
        idx = order[start:start + batch_size]
        with torch.no_grad(), autocast:
            rows = _generate_fixed(model, tokenizer, [encoded[i] for i in idx], max(limits[i] for i in idx),
                                   num_beams, do_sample, temperature, top_p, seed + start)
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


@dataclass(frozen=True)
class DevScore:
    """What one dev evaluation generated and how it scored."""

    f1: float
    generations: list[str]
    paths: list[str]  # how each generation became a graph (`visempar.infer.graphs`)
    tokens_generated: int
    stopped_by: dict[str, int]


def dev_smatch(model, tokenizer, builder: PromptBuilder, examples, *, budget: TokenBudget | int,
               batch_size: int, concepts: str = "space", compute_dtype: str = "float32",
               passes: Passes = NO_PASSES, lexicon=None) -> DevScore:
    """Generate, repair and score `examples` (corpus Smatch F1): the evaluation path that
    preflight proves and that model selection reads at every evaluation."""
    from visempar.amr.format import format_graph
    from visempar.scoring.files import score_texts

    generated = generate(model, tokenizer, builder, [e.sentence or "" for e in examples],
                         batch_size=batch_size, budget=budget, compute_dtype=compute_dtype)
    parsed = [to_graph_result(builder, g.text, concepts, e.sentence or "", passes, lexicon)
              for g, e in zip(generated, examples)]
    report, _ = score_texts([format_graph(p.graph) for p in parsed],
                            [e.text or format_graph(e.graph) for e in examples], bootstrap=0,
                            gold_graphs=[e.graph for e in examples])
    return DevScore(report.f1, [g.text for g in generated], [p.path for p in parsed],
                    **generation_counts(generated))
