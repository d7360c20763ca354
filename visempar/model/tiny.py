"""`--model tiny`: the embedded default base model, built offline by visempar itself.

A byte-level BPE tokenizer is trained on the bundled TRAIN split and the prompt texts, a
small Llama model is initialised from a fixed seed and given a short causal-LM warm-up on
the same text, so that LoRA on a CPU learns something measurable. Llama rather than Qwen2:
for `model_type=qwen2` transformers rebuilds the tokenizer from vocab and merges with
Qwen's own split regex and silently changes a home-made tokenizer's ids.

The result is cached under a key of the spec and the text, built in a temporary directory
and moved into place only after its tokenizer ids were checked to survive save/reload.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from visempar.amr.format import format_graph
from visempar.amr.io import read_corpus
from visempar.amr.variables import strip_variables
from visempar.data.corpus import sample_path
from visempar.data.prompts import INSTRUCTIONS, TASK1, TASK2
from visempar.model.cache import cache_root, cached_build
from visempar.reports import write_json

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
BUILDER_VERSION = "1"


@dataclass(frozen=True)
class TinySpec:
    """Size and warm-up of the tiny model; part of its cache key."""

    vocab_size: int = 1024
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 352
    max_positions: int = 1024
    warmup_steps: int = 300
    warmup_lr: float = 3e-3
    warmup_block: int = 128
    warmup_batch: int = 16
    seed: int = 0


def training_text(train_path: Path | None = None) -> list[str]:
    """The warm-up documents: each TRAIN sentence with its graph, with and without variables."""
    corpus = read_corpus(train_path or sample_path("train"))
    return [f"{e.sentence}\n{format_graph(e.graph, 'oneline')}\n{strip_variables(e.graph)}\n"
            for e in corpus.examples]


def _key(spec: TinySpec, docs: list[str]) -> str:
    payload = json.dumps({"spec": asdict(spec), "docs": docs, "version": BUILDER_VERSION,
                          "prompts": [INSTRUCTIONS, TASK1, TASK2]}, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def tiny_model_path(spec: TinySpec = TinySpec(), *, log=print) -> Path:
    """The directory of the tiny model for `spec`, built on first use."""
    docs = training_text()
    target = cache_root() / "models" / f"tiny-{_key(spec, docs)}"
    return cached_build(target, "visempar-tiny.json", lambda out: build_tiny(out, spec, docs, log=log))


def train_tokenizer(docs: list[str], vocab_size: int):
    """A byte-level BPE tokenizer with distinct BOS, EOS and PAD (pad == eos masks EOS, D7)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    extra = [text for pair in INSTRUCTIONS.items() for text in pair] + [TASK1, TASK2, "Câu:", "AMR:"]
    tok.train_from_iterator(docs + extra, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=PAD, model_max_length=4096)


def _warm_up(model, tokenizer, docs: list[str], spec: TinySpec, log) -> list[float]:
    import torch

    ids: list[int] = []
    for doc in docs:
        ids += tokenizer(doc)["input_ids"] + [tokenizer.eos_token_id]
    data = torch.tensor(ids)
    gen = torch.Generator().manual_seed(spec.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.warmup_lr, weight_decay=0.0)
    losses = []
    model.train()
    for step in range(spec.warmup_steps):
        lr = spec.warmup_lr * min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / spec.warmup_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(data) - spec.warmup_block, (spec.warmup_batch,), generator=gen)
        batch = torch.stack([data[s:s + spec.warmup_block] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if (step + 1) % 100 == 0:
            log(f"tiny model warm-up: step {step + 1}/{spec.warmup_steps}, loss {loss.item():.3f}")
    model.eval()
    return losses


def build_tiny(out: Path, spec: TinySpec, docs: list[str], *, log=print) -> None:
    """Train tokenizer, initialise, warm up, save to `out`, and check the reload."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    start = time.perf_counter()
    log(f"building the tiny model (once; cached under {cache_root()})")
    tokenizer = train_tokenizer(docs, spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size, num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_positions, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    losses = _warm_up(model, tokenizer, docs, spec, log)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)

    probe = docs[:20] + [INSTRUCTIONS["mtup"], "Thế_thì thằng nào ăn đi ?"]
    reloaded = AutoTokenizer.from_pretrained(out)
    for text in probe:
        if reloaded(text)["input_ids"] != tokenizer(text)["input_ids"]:
            raise RuntimeError(f"tiny tokenizer ids changed on save/reload for {text!r}")
    if (reloaded.eos_token_id, reloaded.pad_token_id) != (tokenizer.eos_token_id, tokenizer.pad_token_id):
        raise RuntimeError("tiny tokenizer special tokens changed on save/reload")
    AutoModelForCausalLM.from_pretrained(out)
    meta = {"spec": asdict(spec), "parameters": sum(p.numel() for p in model.parameters()),
            "warmup_loss_first": losses[0] if losses else None,
            "warmup_loss_last": losses[-1] if losses else None,
            "build_seconds": round(time.perf_counter() - start, 1)}
    write_json(out / "visempar-tiny.json", meta)
    log(f"tiny model ready: {meta['parameters']:,} parameters, warm-up loss "
        f"{meta['warmup_loss_first']:.2f} -> {meta['warmup_loss_last']:.2f}, {meta['build_seconds']} s")


# Qwen3's chat template in short: in non-thinking mode (`enable_thinking=false`) the
# generation prompt ends with an empty thinking block, and a finished assistant turn always
# shows one, as Qwen3's own template renders them.
QWEN3_TEMPLATE = (
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}{%- endif %}")


def tiny_qwen3(tiny: str | Path, out: str | Path, seed: int = 0) -> Path:
    """A 2-layer Qwen3-architecture model with random weights, the tiny model's tokenizer
    and a Qwen3-style thinking template, saved in `out`: the Qwen3 path (the architecture,
    its seven projections, the thinking block) on a CPU or in the GPU check, offline."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(tiny))
    tok.chat_template = QWEN3_TEMPLATE
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    probe = "Tôi muốn đi học .\n(m / muốn :agent (t / tôi))"
    if AutoTokenizer.from_pretrained(out)(probe)["input_ids"] != tok(probe)["input_ids"]:
        raise RuntimeError("tiny Qwen3 tokenizer ids changed on save/reload")
    return out
