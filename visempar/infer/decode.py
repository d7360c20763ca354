"""Decoding that stops where the graph ends, with the KV cache and a batch that shrinks.

Each row stops on the first of its rules, and the reason is recorded:

- `eos`: the model ended the completion;
- `graph_end`: the graph's root bracket closed (for `mtup`, task 2's): the text after it
  is never read, so it is not generated;
- `nested`, `siblings`: a structural loop (`visempar.amr.stream`); the repeated copies
  are cut off and repair closes the rest;
- `span`: the same span of tokens `SPAN_REPEATS` times in a row, also cut to one copy;
- `limit`: the row's token budget ran out.

A finished row leaves the batch at once: its KV-cache row is dropped, so one runaway no
longer makes fifteen finished rows compute until it ends. Greedy or sampled (temperature,
top-p); beam search goes through `model.generate` with the budget alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from visempar.amr.stream import GraphStream
from visempar.data.prompts import TASK2

SPAN_REPEATS = 3
SPAN_MIN, SPAN_MAX = 2, 48
_LETTER = re.compile(r"[^\W\d_]")
_TASK2_LINE = re.compile(rf"(?m)^{re.escape(TASK2)}[ \t]*\r?\n")


@dataclass
class Decoded:
    """One row's new tokens (cut where a loop began) and why it stopped."""

    tokens: list[int]
    reason: str
    generated: int  # tokens the model produced, before any cut


class RowWatch:
    """One row's stopping rules, fed token by token with the token's text."""

    def __init__(self, variant: str, rules: bool = True):
        self.variant = variant
        self.rules = rules
        self.tokens: list[int] = []
        self.ends: list[int] = []  # text offset after each token
        self.text = ""
        self.base = 0 if variant == "baseline" else None  # where the full graph starts
        self.graph = GraphStream() if variant == "baseline" else None
        self.task1 = GraphStream() if variant == "mtup" else None
        self.cut: int | None = None  # tokens kept when a loop stopped the row

    def step(self, token: int, piece: str) -> str | None:
        """The reason to stop after this token, or None."""
        self.tokens.append(token)
        if not self.rules:
            return None
        start = len(self.text)
        self.text += piece
        self.ends.append(len(self.text))
        if self.graph is None:
            self.task1.feed(piece)
            found = _TASK2_LINE.search(self.text, max(0, start - len(TASK2) - 4))
            if found:
                self.base, self.graph = found.end(), GraphStream()
                self.graph.feed(self.text[found.end():])
            elif self.task1.loop:
                return self._stop_at(self.task1.loop.kind, self.task1.loop.cut)
        else:
            self.graph.feed(piece)
        if self.graph is not None:
            if self.graph.loop:
                return self._stop_at(self.graph.loop.kind, self.base + self.graph.loop.cut)
            if self.graph.closed:
                return "graph_end"
        return self._span()

    def _stop_at(self, reason: str, offset: int) -> str:
        self.cut = sum(1 for end in self.ends if end <= offset)
        return reason

    def _span(self) -> str | None:
        toks, n = self.tokens, len(self.tokens)
        for p in range(SPAN_MIN, min(SPAN_MAX, n // SPAN_REPEATS) + 1):
            if toks[n - 1] != toks[n - 1 - p]:
                continue
            last = toks[n - p:]
            if all(toks[n - (k + 1) * p:n - k * p] == last for k in range(1, SPAN_REPEATS)):
                text = self.text[self.ends[n - p - 1]:]
                if _LETTER.search(text):
                    self.cut = n - (SPAN_REPEATS - 1) * p
                    return "span"
        return None

    def result(self, reason: str) -> Decoded:
        kept = self.tokens if self.cut is None else self.tokens[:self.cut]
        return Decoded(kept, reason, len(self.tokens))


def decode(model, prompts: Sequence[list[int]], limits: Sequence[int], *, variant: str,
           pad_id: int, eos_ids: set[int], piece: Callable[[int], str], do_sample: bool = False,
           temperature: float = 1.0, top_p: float = 1.0, generator=None,
           rules: bool = True) -> list[Decoded]:
    """New tokens for each prompt (ids, unpadded), in order; see the module docstring.
    Without `rules`, rows stop at EOS or their limit only."""
    import torch
    from transformers import DynamicCache

    device = next(model.parameters()).device
    ids, mask = left_padded(prompts, pad_id, device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                   use_cache=True, logits_to_keep=1).logits[:, -1, :]
    position = positions[:, -1:] + 1
    watches = [RowWatch(variant, rules) for _ in prompts]
    done: list[Decoded | None] = [None] * len(prompts)
    alive = list(range(len(prompts)))
    while alive:
        chosen = _choose(logits, do_sample, temperature, top_p, generator).tolist()
        keep = []
        for row, (i, token) in enumerate(zip(alive, chosen)):
            watch = watches[i]
            reason = "eos" if token in eos_ids else watch.step(token, piece(token))
            if reason is None and len(watch.tokens) >= limits[i]:
                reason = "limit"
            if reason is None:
                keep.append(row)
            else:
                done[i] = watch.result(reason)
        if not keep:
            break
        next_ids = torch.tensor(chosen, device=device)
        if len(keep) < len(alive):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            mask, position, next_ids = mask[index], position[index], next_ids[index]
            alive = [alive[row] for row in keep]
        mask = torch.cat([mask, mask.new_ones((len(alive), 1))], dim=1)
        logits = model(input_ids=next_ids[:, None], attention_mask=mask, position_ids=position,
                       past_key_values=cache, use_cache=True).logits[:, -1, :]
        position = position + 1
    return done  # type: ignore[return-value]


def left_padded(prompts: Sequence[list[int]], pad_id: int, device):
    """The prompts as one left-padded batch of ids, and its attention mask."""
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        mask[row, width - len(p):] = 1
    return ids.to(device), mask.to(device)


def _choose(logits, do_sample: bool, temperature: float, top_p: float, generator):
    import torch

    if not do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / max(temperature, 1e-5), dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > top_p
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
