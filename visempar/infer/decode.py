"""Decoding that stops where the graph ends, with the KV cache and a batch that shrinks.

Each row stops on the first of its rules, and the reason is recorded:

- `eos`: the model ended the completion;
- `graph_end`: the graph's root bracket closed (for `mtup`, task 2's): the text after it
  is never read, so it is not generated;
- `nested`, `siblings`: a structural loop (`visempar.amr.stream`); the repeated copies
  are cut off and repair closes the rest;
- `span`: the same span of tokens `SPAN_REPEATS` times in a row, also cut to one copy;
- `limit`: the row's token budget ran out.

A finished row leaves the batch at once (its KV-cache row is dropped) and the next prompt
takes its slot, so the batch stays full: a decoding step reads every weight however many
rows it serves. Greedy or sampled (temperature, top-p); beam search goes through
`model.generate` with the budget alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from visempar.amr.stream import GraphStream
from visempar.data.prompts import TASK2

SPAN_REPEATS = 3
REFILL = 4  # the next prompts join once 1/REFILL of the slots are free
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
           temperature: float = 1.0, top_p: float = 1.0, generator=None, rules: bool = True,
           slots: int | None = None, progress: Callable[[int], object] | None = None) -> list[Decoded]:
    """New tokens for each prompt (ids, unpadded), in order; see the module docstring.
    Without `rules`, rows stop at EOS or their limit only.

    At most `slots` rows decode at once (all of them by default), taken in the order
    given. Rows that stop leave the batch in groups (half of it, or a quarter of the slots
    when prompts wait, which then take them). A step reads every weight whatever the
    number of rows, so keeping the slots full is what makes decoding fast on a CPU (when
    rows only left, a batch of 16 ran 7 rows a step on average). `progress(1)` is called
    as each row stops."""
    import torch

    from visempar.infer.llama_step import LlamaStep, fits

    device = next(model.parameters()).device
    fast = _steps(model, LlamaStep) if fits(model) else None
    slots = max(1, slots or len(prompts))
    waiting = list(range(len(prompts)))
    rows: list[int | None] = waiting[:slots]  # None: a row that stopped, still in the batch
    waiting = waiting[slots:]
    batch = _Batch.start(model, [prompts[i] for i in rows], pad_id, device, fast)
    logits = batch.logits
    watches = [RowWatch(variant, rules) for _ in prompts]
    done: list[Decoded | None] = [None] * len(prompts)
    while rows:
        chosen = _choose(logits, do_sample, temperature, top_p, generator).tolist()
        for row, (i, token) in enumerate(zip(rows, chosen)):
            if i is None:
                continue
            watch = watches[i]
            reason = "eos" if token in eos_ids else watch.step(token, piece(token))
            if reason is None and len(watch.tokens) >= limits[i]:
                reason = "limit"
            if reason is not None:
                done[i], rows[row] = watch.result(reason), None
                if progress:
                    progress(1)
        next_ids = torch.tensor([pad_id if i is None else t for i, t in zip(rows, chosen)], device=device)
        stopped = rows.count(None)
        # stopped rows leave in groups: copying the cache for each one cost more than stepping it
        if stopped and (stopped == len(rows) or 2 * stopped >= len(rows) or (waiting and REFILL * stopped >= slots)):
            keep = [row for row, i in enumerate(rows) if i is not None]
            batch.select(keep)
            rows, next_ids = [rows[k] for k in keep], next_ids[keep]
        logits = batch.step(model, next_ids) if rows else None
        free = slots - len(rows)
        if waiting and (not rows or (batch.joinable() and REFILL * free >= slots)):
            new, waiting = waiting[:free], waiting[free:]
            newcomers = _Batch.start(model, [prompts[i] for i in new], pad_id, device, fast)
            batch = batch.join(newcomers) if rows else newcomers
            logits = newcomers.logits if logits is None else torch.cat([logits, newcomers.logits])
            rows = rows + list(new)
    return done  # type: ignore[return-value]


def _steps(model, kind):
    """The model's `LlamaStep`, built on first use and kept on the model."""
    if getattr(model, "_visempar_step", None) is None:
        model._visempar_step = kind(model)
    return model._visempar_step


class _Batch:
    """The rows decoding together: their keys and values, left-padded attention mask and
    next positions. Rows leave (`select`) and join (`join`, the shorter side padded on the
    left); columns no row needs any more are cut off. The steps are the model's own
    forward over a `DynamicCache`, or `LlamaStep`'s (`visempar.infer.llama_step`) where it
    fits the model."""

    def __init__(self, cache, mask, position, logits=None, fast=None):
        self.cache, self.mask, self.position, self.logits, self.fast = cache, mask, position, logits, fast

    @classmethod
    def start(cls, model, prompts: Sequence[list[int]], pad_id: int, device, fast=None) -> _Batch:
        """The prompts' forward pass: the cache filled, the logits of their last tokens."""
        import torch
        from transformers import DynamicCache

        ids, mask = left_padded(prompts, pad_id, device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=model.config)
        last = torch.zeros_like(mask, dtype=torch.bool)
        last[:, -1] = True  # left padding: every row's last token is in the last column
        # kept as a boolean mask, the last positions reach the LM head as one contiguous
        # (rows, hidden) matrix; `logits_to_keep=1` gave it a strided (rows, 1, hidden) view,
        # which made the matmul copy the head's weight once per row (0.9 GB for 16 rows)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                       use_cache=True, logits_to_keep=last).logits
        if fast is not None:
            cache = fast.from_dynamic(cache)
        return cls(cache, mask, positions[:, -1:] + 1, logits, fast)

    def _layers(self) -> tuple[list, list]:
        return [layer.keys for layer in self.cache.layers], [layer.values for layer in self.cache.layers]

    def _set_layers(self, keys: list, values: list) -> None:
        for layer, k, v in zip(self.cache.layers, keys, values):
            layer.keys, layer.values = k, v

    def step(self, model, next_ids):
        """One token for each row; the logits of the next."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(next_ids), 1))], dim=1)
        if self.fast is not None:
            logits = self.fast.step(self.cache, next_ids, self.position, self.mask)
        else:
            logits = model(input_ids=next_ids[:, None], attention_mask=self.mask, position_ids=self.position,
                           past_key_values=self.cache, use_cache=True).logits[:, -1, :]
        self.position = self.position + 1
        return logits

    def select(self, keep: list[int]) -> None:
        import torch

        index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.mask, self.position = self.mask[index], self.position[index]
        unused = int(self.mask.any(dim=0).int().argmax()) if len(keep) else 0  # padding columns of every row left
        self.mask = self.mask[:, unused:]
        if self.fast is not None:
            self.cache.select(index, unused)
            return
        keys, values = self._layers()
        self._set_layers([k[index, :, unused:] for k in keys], [v[index, :, unused:] for v in values])

    def joinable(self) -> bool:
        """Whether rows can join: a cache of plain growing layers (not sliding windows)."""
        return self.fast is not None or all(type(layer).__name__ == "DynamicLayer" for layer in self.cache.layers)

    def join(self, other: _Batch) -> _Batch:
        """These rows, then `other`'s, in one batch."""
        import torch
        import torch.nn.functional as F

        width = max(self.mask.shape[1], other.mask.shape[1])
        if self.fast is not None:
            self.cache.join(other.cache)
        else:
            joined = []
            for mine, theirs in zip(self._layers(), other._layers()):
                joined.append([torch.cat([F.pad(a, (0, 0, width - a.shape[2], 0)),
                                          F.pad(b, (0, 0, width - b.shape[2], 0))]) for a, b in zip(mine, theirs)])
            self._set_layers(*joined)
        mask = torch.cat([F.pad(self.mask, (width - self.mask.shape[1], 0)),
                          F.pad(other.mask, (width - other.mask.shape[1], 0))])
        return _Batch(self.cache, mask, torch.cat([self.position, other.position]), fast=self.fast)


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

    if not do_sample:  # (in fp32: the same maximum, found 4x faster than in bf16 on a CPU)
        return logits.float().argmax(dim=-1)
    probs = torch.softmax(logits.float() / max(temperature, 1e-5), dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > top_p
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
