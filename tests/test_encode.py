"""Encoding for training (failure modes D1, D2, D7): token ids, label masks, segments,
the length limit and the collator, checked value by value on the tiny tokenizer."""

import pytest

from visempar.amr import Example, read_corpus
from visempar.data.corpus import summary
from visempar.data.corpus import sample_path
from visempar.data.encode import IGNORE, Collator, TruncationError, encode_example, encode_examples
from visempar.data.prompts import PromptBuilder


@pytest.fixture(scope="module")
def tok(tiny_model):
    from visempar.model.build import load_tokenizer

    return load_tokenizer(tiny_model)


@pytest.fixture(scope="module")
def examples():
    return read_corpus(sample_path("train")).examples[:6]


def test_each_row_masks_the_prompt_and_supervises_the_completion_and_eos(tok, examples):
    for variant, segments in (("baseline", {0, 2}), ("mtup", {0, 1, 2})):
        builder = PromptBuilder(variant, tok)
        row = encode_example(tok, builder, examples[1], 7)
        n = len(tok(builder.prompt(examples[1].sentence))["input_ids"])
        assert row["index"] == 7 and set(row["segment"]) == segments
        assert row["segment"][:n] == [0] * n and 0 not in row["segment"][n:]
        assert row["labels"] == [IGNORE] * n + row["input_ids"][n:]
        assert row["input_ids"][-1] == tok.eos_token_id and row["segment"][-1] == 2
        assert len(row["input_ids"]) == len(row["labels"]) == len(row["segment"])


def test_the_length_limit_excludes_or_refuses_and_says_which(tok, examples):
    builder = PromptBuilder("baseline", tok)
    lengths = [len(encode_example(tok, builder, e, i)["input_ids"]) for i, e in enumerate(examples)]
    limit = sorted(lengths)[2]                                   # the 3 shortest fit, exactly or below
    encoded = encode_examples(examples, tok, builder, limit)
    kept = [e for e, n in zip(examples, lengths) if n <= limit]
    assert encoded.examples == kept and len(encoded.rows) == len(kept)
    assert [r["index"] for r in encoded.rows] == [i for i, n in enumerate(lengths) if n <= limit]
    assert encoded.rows[0]["prompt"] == builder.prompt(kept[0].sentence)
    assert encoded.rows[0]["completion"] == builder.completion(kept[0].graph)
    report = encoded.lengths.to_dict()
    assert report["max_length"] == limit and report["examples"] == 6 and encoded.lengths.lengths == lengths
    first = next(i for i, n in enumerate(lengths) if n > limit)
    assert report["excluded"] == 6 - len(kept)
    assert report["excluded_examples"][0] == f"{examples[first].location}: {lengths[first]} tokens > max_length {limit}"
    with pytest.raises(TruncationError) as refused:
        encode_examples(examples, tok, builder, limit, on_truncation="refuse")
    assert str(refused.value) == (f"{6 - len(kept)} of 6 examples are longer than max_length {limit} "
                                  f"(on_truncation: refuse); first: {report['excluded_examples'][0]}")
    assert report == {"max_length": limit, "examples": 6, "tokens": summary(lengths),
                      "excluded": 6 - len(kept), "excluded_examples": report["excluded_examples"]}
    assert len(encode_examples(examples, tok, builder, max(lengths), on_truncation="refuse").rows) == 6


def test_the_excluded_list_is_capped_and_a_missing_sentence_is_an_empty_one(tok):
    from visempar.data.encode import LengthReport

    report = LengthReport(10, [11] * 25, [f"f:{i}" for i in range(25)]).to_dict()
    assert report["excluded"] == 25 and report["excluded_examples"] == [f"f:{i}" for i in range(20)]
    builder = PromptBuilder("baseline", tok)
    graph = read_corpus(sample_path("train")).examples[0].graph
    row = encode_examples([Example(None, graph)], tok, builder, 4096).rows[0]
    assert row["prompt"] == builder.prompt("")
    assert row["input_ids"][: row["segment"].count(0)] == tok(builder.prompt(""))["input_ids"]


def test_collator_pads_every_column_and_keeps_the_indices(tok, examples):
    rows = encode_examples(examples[:3], tok, PromptBuilder("mtup", tok), 4096).rows
    batch = Collator(tok.pad_token_id)(rows)
    width = max(len(r["input_ids"]) for r in rows)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["segment"].shape == (3, width)
    assert batch["index"].tolist() == [0, 1, 2]
    for i, row in enumerate(rows):
        n = len(row["input_ids"])
        assert batch["input_ids"][i, :n].tolist() == row["input_ids"]
        assert batch["labels"][i, :n].tolist() == row["labels"]
        assert batch["segment"][i].tolist() == row["segment"] + [0] * (width - n)
        assert batch["labels"][i, n:].tolist() == [IGNORE] * (width - n)        # padding never supervised
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * (width - n)
