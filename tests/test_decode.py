"""Decoding that stops where the graph ends: the stream reader, the row rules, the batch."""

import pytest

from visempar.amr.stream import GraphStream, scan
from visempar.data.prompts import TASK1, TASK2
from visempar.infer.budget import TokenBudget
from visempar.infer.decode import RowWatch

LOOP = "(n / nói :mod(n1 / ngoài :mod(đ / để) :mod(n2 / ngoài :mod(đ1 / để) :mod(n3 / ngoài :mod(đ2 / để"


def feed(watch: RowWatch, pieces):
    """Feed pieces as tokens numbered by their text; the first stop reason and where."""
    ids: dict[str, int] = {}
    for n, piece in enumerate(pieces):
        reason = watch.step(ids.setdefault(piece, len(ids)), piece)
        if reason:
            return reason, n
    return None, len(pieces)


def test_graph_ends_inside_a_token_that_holds_several_brackets():
    pieces = ["(", "a", " /", " b", " :c", "(", "d", " / e", " :f(g / h", "))", ")\n", " tail"]
    reason, at = feed(RowWatch("baseline"), pieces)
    assert (reason, at) == ("graph_end", 10)
    stream = GraphStream()
    for piece in pieces[:10]:
        stream.feed(piece)
    assert stream.depth == 1 and not stream.closed


def test_brackets_inside_quotes_do_not_count():
    assert not scan('(a / b :wiki "x)y" :c(d / e)').closed
    assert scan('(a / b :wiki "x)y" :c(d / e))').closed
    assert not scan(")) (a / b").closed          # closing before the root opened is noise


def test_mtup_ends_after_task2_not_task1():
    watch = RowWatch("mtup")
    text = f"{TASK1}\n(đi :agent(tôi))\n{TASK2}\n(đ / đi :agent(t / tôi))\nrest"
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    reason, at = feed(watch, pieces)
    assert reason == "graph_end"
    assert "".join(pieces[:at + 1]).rstrip().endswith("(t / tôi))")


def test_nested_loop_is_cut_to_one_copy():
    stream = scan(LOOP)
    assert stream.loop.kind == "nested" and stream.loop.what == ":mod ngoài"
    assert LOOP[:stream.loop.cut] == "(n / nói :mod(n1 / ngoài :mod(đ / để) "
    watch = RowWatch("baseline")
    pieces = [LOOP[i:i + 4] for i in range(0, len(LOOP), 4)]
    reason, _ = feed(watch, pieces)
    kept = "".join(pieces[:len(watch.result(reason).tokens)])
    assert reason == "nested" and kept.startswith("(n / nói :mod(n1 / ngoài") and kept.count("ngoài") == 1


def test_repeated_siblings_stop_and_a_pair_does_not():
    three = "(a / and :op1(x / đi) :mod(y / đẹp :mod(r / rất)) :mod(y1 / đẹp :mod(r1 / rất)) :mod(y2 / đẹp :mod(r2 / rất))"
    stream = scan(three)
    assert stream.loop.kind == "siblings"
    assert three[:stream.loop.cut].endswith(":mod(r / rất)) ")
    assert scan(three.rsplit(" :mod(y2", 1)[0] + ")").loop is None


def test_span_repetition_stops_and_keeps_one_copy():
    watch = RowWatch("baseline")
    pieces = ["(", "a", " /", " b"] + [" :mod", " xa", " :mod", " xa", " :mod", " xa"]
    reason, at = feed(watch, pieces)
    assert reason == "span"
    assert len(watch.result(reason).tokens) == 6 and watch.result(reason).generated == at + 1
    closers = RowWatch("baseline")
    assert feed(closers, ["(a / b", " :c(d / e", " :f(g / h"] + [")"] * 3)[0] == "graph_end"


def test_no_false_stop_on_real_training_graphs(vlsp_dir):
    from visempar.amr.io import read_corpus
    from visempar.data.prompts import PromptBuilder

    examples = read_corpus(vlsp_dir / "train_amr_2.txt").examples + read_corpus(vlsp_dir / "train_amr_1.txt").examples
    for variant in ("baseline", "mtup"):
        builder = PromptBuilder(variant)
        for example in examples:
            text = builder.completion(example.graph)
            watch = RowWatch(variant)
            pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
            reason, at = feed(watch, pieces)
            assert reason == "graph_end", (example.location, reason)
            assert "".join(pieces[at + 1:]).strip() == "", example.location


def test_token_budget_fits_the_p99_ratio():
    budget = TokenBudget.fit(sentence_tokens=[10] * 99 + [10], completion_tokens=[20] * 99 + [80], cap=100)
    assert budget.ratio == pytest.approx(2.0 * TokenBudget.MARGIN)
    assert budget.limit(10) == 25 + 16 and budget.limit(1000) == 100
    assert TokenBudget.from_config(64, 512, 3.0).limit(1000) == 64
    assert TokenBudget.from_config("auto", 512, None).limit(3) == 512


@pytest.fixture(scope="module")
def loaded(trained_run):
    from visempar.infer.load import load_run

    return load_run(trained_run)


def test_finished_rows_leave_and_the_rest_decode_as_alone(loaded):
    import torch

    from visempar.data.encode import prompt_ids
    from visempar.infer.decode import decode

    tok = loaded.tokenizer
    sentences = ["tôi muốn đi học .", "trời mưa to lắm , chúng tôi ở nhà .", "mẹ nấu cơm .", "anh ấy không đến ."]
    prompts = [prompt_ids(tok, loaded.builder, s) for s in sentences]
    limits = [3, 40, 11, 25]
    common = dict(variant="baseline", pad_id=tok.pad_token_id, eos_ids=set(), piece=lambda t: tok.decode([t]),
                  rules=False)
    with torch.no_grad():
        batch = decode(loaded.model, prompts, limits, **common)
        alone = [decode(loaded.model, [p], [n], **common)[0] for p, n in zip(prompts, limits)]
        fixed = loaded.model.generate(input_ids=torch.tensor([prompts[1]]), max_new_tokens=40,
                                      do_sample=False, eos_token_id=None, pad_token_id=tok.pad_token_id)
    assert [len(r.tokens) for r in batch] == limits and {r.reason for r in batch} == {"limit"}
    assert [r.tokens for r in batch] == [r.tokens for r in alone]
    assert batch[1].tokens == fixed[0, len(prompts[1]):].tolist()


def test_generate_reports_why_rows_stopped(loaded):
    from visempar.infer.generate import generate, generation_counts

    sentences = ["tôi muốn đi học .", "mẹ nấu cơm ."]
    out = generate(loaded.model, loaded.tokenizer, loaded.builder, sentences, budget=loaded.budget)
    counts = generation_counts(out)
    assert sum(counts["stopped_by"].values()) == 2
    assert counts["tokens_generated"] == sum(g.tokens for g in out) > 0
    before = generate(loaded.model, loaded.tokenizer, loaded.builder, sentences, budget=loaded.budget,
                      stopping=False)
    assert all(b.text.startswith(a.text) for a, b in zip(out, before))


def test_top_p_samples_only_the_nucleus_in_proportion():
    """Top-p keeps the most probable tokens until their mass reaches p (the top one
    always), and samples among them in proportion to their probabilities."""
    import torch

    from visempar.infer.decode import _choose

    probs = torch.tensor([0.5, 0.3, 0.1, 0.06, 0.04])
    logits = probs.log().expand(4000, 5).clone()
    generator = torch.Generator().manual_seed(0)
    drawn = _choose(logits, True, 1.0, 0.75, generator).tolist()
    assert set(drawn) == {0, 1}
    assert abs(drawn.count(0) / len(drawn) - 0.5 / 0.8) < 0.03
    assert set(_choose(logits, True, 1.0, 1.0, generator).tolist()) == {0, 1, 2, 3, 4}
    assert set(_choose(logits, True, 1.0, 0.01, generator).tolist()) == {0}
    assert set(_choose(logits, False, 1.0, 0.75, None).tolist()) == {0}
