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


def test_rows_join_as_others_stop_and_decode_as_alone(loaded):
    """Seven prompts through two slots: each stopped row's slot goes to the next prompt
    (padding on the left of the shorter side, columns no row needs cut off), and every
    row decodes as it does alone (fp32, so batching changes no bit)."""
    import torch

    from visempar.data.encode import prompt_ids
    from visempar.infer.decode import decode

    tok = loaded.tokenizer
    sentences = ["tôi muốn đi học .", "trời mưa to lắm , chúng tôi ở nhà .", "mẹ nấu cơm .", "anh ấy không đến .",
                 "hôm nay là thứ hai .", "em bé ngủ .", "cô giáo dạy toán ở trường làng bên sông ."]
    prompts = [prompt_ids(tok, loaded.builder, s) for s in sentences]
    limits = [3, 30, 11, 25, 2, 17, 9]
    common = dict(variant="baseline", pad_id=tok.pad_token_id, eos_ids=set(), piece=lambda t: tok.decode([t]),
                  rules=False)
    stopped = []
    with torch.no_grad():
        refilled = decode(loaded.model, prompts, limits, slots=2, progress=stopped.append, **common)
        alone = [decode(loaded.model, [p], [n], **common)[0] for p, n in zip(prompts, limits)]
    assert [r.tokens for r in refilled] == [r.tokens for r in alone]
    assert [len(r.tokens) for r in refilled] == limits and stopped == [1] * 7


def test_the_written_out_step_computes_the_model_step(loaded):
    """`LlamaStep` against the model's own forward, on padded rows: the same logits in fp32
    (to rounding), the same next tokens in bf16; its fused weights are the model's own
    memory (the projections became slices of them)."""
    import copy

    import torch

    from visempar.data.encode import prompt_ids
    from visempar.infer.decode import _Batch
    from visempar.infer.llama_step import LlamaStep, fits

    tok = loaded.tokenizer
    prompts = [prompt_ids(tok, loaded.builder, s) for s in ("tôi muốn đi học .", "mẹ nấu cơm .", "em bé ngủ rất ngon .")]
    for dtype in (torch.float32, torch.bfloat16):
        model = copy.deepcopy(loaded.model).to(dtype)
        assert fits(model)
        step = LlamaStep(model)
        attn = model.model.layers[0].self_attn
        assert attn.k_proj.weight.data_ptr() == step.layers[0][2].data_ptr() + attn.q_proj.weight.numel() * \
            attn.q_proj.weight.element_size()
        with torch.no_grad():
            ours = _Batch.start(model, prompts, tok.pad_token_id, "cpu", step)
            theirs = _Batch.start(model, prompts, tok.pad_token_id, "cpu")
            ids = theirs.logits.argmax(-1)
            for _ in range(6):
                a, b = ours.step(model, ids), theirs.step(model, ids)
                if dtype == torch.float32:
                    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
                assert torch.equal(a.float().argmax(-1), b.float().argmax(-1))
                ids = b.float().argmax(-1)


def test_packed_weights_give_the_products_of_f_linear():
    """The step's bf16 matmul on a weight packed once gives F.linear's numbers to the bit,
    for any number of rows and for (rows, tokens, features) inputs; fp32 keeps F.linear."""
    import torch
    import torch.nn.functional as F

    from visempar.infer.llama_step import _linear_for

    g = torch.Generator().manual_seed(1)
    weight = torch.randn(96, 64, generator=g).to(torch.bfloat16)
    linear, pack = _linear_for(torch.bfloat16)
    packed = pack(weight)
    for shape in ((1, 64), (5, 64), (33, 64), (3, 7, 64)):
        x = torch.randn(*shape, generator=g).to(torch.bfloat16)
        assert torch.equal(linear(x, packed), F.linear(x, weight))
    assert _linear_for(torch.float32)[0] is F.linear


def test_weights_are_not_packed_where_their_copies_would_not_fit(monkeypatch):
    """Packing copies the linear weights; where the copies would take over a quarter of
    the free memory, the step keeps F.linear on the model's own weights."""
    import torch
    import torch.nn.functional as F

    from visempar.infer import llama_step

    monkeypatch.setattr(llama_step, "available_memory", lambda: 4 * 10**9)
    assert llama_step._linear_for(torch.bfloat16, 2 * 10**9)[0] is F.linear
    packs = llama_step._linear_for(torch.bfloat16)[0] is not F.linear  # this build packs at all
    assert (llama_step._linear_for(torch.bfloat16, 10**6)[0] is not F.linear) == packs
    assert llama_step.available_memory() is None or llama_step.available_memory() > 0


def test_the_adapter_merges_as_peft_merges_it(trained_run):
    """`merge_lora` gives peft's merged weights to the bit, without peft."""
    import torch
    from peft import PeftModel

    from visempar.config import load_config
    from visempar.model.adapter import merge_lora
    from visempar.model.build import load_base
    from visempar.model.resolve import resolve_model

    path = resolve_model(load_config(trained_run / "config.yaml").model)
    ours, theirs = load_base(path, False, "float32"), load_base(path, False, "float32")
    assert merge_lora(ours, trained_run / "adapter")
    theirs = PeftModel.from_pretrained(theirs, str(trained_run / "adapter")).merge_and_unload()
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
