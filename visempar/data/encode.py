"""Token ids and label masks of prompt-completion examples, with their length check.

The prompt is tokenized alone, exactly as at inference (`prompt_ids`), and the completion
after it, followed by EOS: the prompt is never supervised, the completion and its EOS
always are (failure mode D7). Each token carries a segment (0 prompt, 1 task 1, 2 task 2
or the baseline graph) so the training monitor can log the two tasks' losses apart.
Examples longer than `max_length` are excluded with a count, or refused, never cut (D2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from visempar.amr.io import Example
from visempar.data.corpus import summary
from visempar.data.prompts import PromptBuilder
from visempar.errors import VisemparError

IGNORE = -100


class TruncationError(VisemparError, ValueError):
    """Examples longer than `max_length` while `on_truncation: refuse`."""


def prompt_ids(tokenizer, builder: PromptBuilder, sentence: str) -> list[int]:
    """The prompt's ids; a chat template brings its own special tokens."""
    return tokenizer(builder.prompt(sentence), add_special_tokens=not builder.templated)["input_ids"]


def encode_example(tokenizer, builder: PromptBuilder, example: Example, index: int) -> dict:
    prompt = prompt_ids(tokenizer, builder, example.sentence or "")
    parts = builder.segments(example.graph)
    task1 = tokenizer(parts.task1, add_special_tokens=False)["input_ids"] if parts.task1 else []
    task2 = tokenizer(parts.task2, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {
        "input_ids": prompt + task1 + task2,
        "labels": [IGNORE] * len(prompt) + task1 + task2,
        "segment": [0] * len(prompt) + [1] * len(task1) + [2] * len(task2),
        "index": index,
    }


@dataclass
class LengthReport:
    """Token lengths of a split against `max_length`."""

    max_length: int
    lengths: list[int]
    excluded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"max_length": self.max_length, "examples": len(self.lengths),
                "tokens": summary(self.lengths), "excluded": len(self.excluded),
                "excluded_examples": self.excluded[:20]}


@dataclass
class Encoded:
    """A split ready for the trainer: rows, their source examples, the length report."""

    rows: list[dict]
    examples: list[Example]
    lengths: LengthReport


def encode_examples(examples: Sequence[Example], tokenizer, builder: PromptBuilder,
                    max_length: int, on_truncation: str = "exclude") -> Encoded:
    rows, kept, lengths, excluded = [], [], [], []
    for i, example in enumerate(examples):
        row = encode_example(tokenizer, builder, example, i)
        lengths.append(len(row["input_ids"]))
        if len(row["input_ids"]) > max_length:
            excluded.append(f"{example.location}: {len(row['input_ids'])} tokens > max_length {max_length}")
            continue
        row["prompt"] = builder.prompt(example.sentence or "")
        row["completion"] = builder.completion(example.graph)
        rows.append(row)
        kept.append(example)
    report = LengthReport(max_length, lengths, excluded)
    if excluded and on_truncation == "refuse":
        raise TruncationError(f"{len(excluded)} of {len(examples)} examples are longer than "
                              f"max_length {max_length} (on_truncation: refuse); first: {excluded[0]}")
    return Encoded(rows, kept, report)


class Collator:
    """TRL's padding collator, plus the segment and index columns the monitor reads."""

    def __init__(self, pad_token_id: int):
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        self.inner = DataCollatorForLanguageModeling(pad_token_id=pad_token_id)

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        batch = self.inner([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
        width = batch["input_ids"].shape[1]
        batch["segment"] = torch.tensor([r["segment"] + [0] * (width - len(r["segment"])) for r in rows])
        batch["index"] = torch.tensor([r["index"] for r in rows])
        return batch
