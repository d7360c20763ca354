"""Preflight's data, model and step checks (`preflight/data_checks.py`, `model_checks.py`,
`step_checks.py`) on hand-built inputs (no model, no training):
every boundary, cause and message, fast enough for mutation testing (scripts/mutation.sh).
The same checks on a real stack, with the faults injected, are in test_preflight.py."""

from types import SimpleNamespace

import pytest
import torch

from visempar.data.encode import LengthReport
from visempar.passes import Passes
from visempar.preflight import data_checks, model_checks, step_checks
from visempar.preflight.report import FAIL, PASS, WARN


def test_lengths_pass_name_the_distribution_and_fail_above_five_percent_excluded():
    def check(lengths, excluded):
        prepared = SimpleNamespace(train=SimpleNamespace(lengths=LengthReport(100, lengths, excluded)))
        return data_checks.check_lengths(prepared)

    fine = check([10, 20, 30, 40], [])
    assert (fine.status, fine.reason) == (PASS, "4 examples, tokens mean 25.0, p90 40, max 40 vs max_length 100")
    assert fine.details["tokens"]["max"] == 40
    few = check([10] * 40, ["a.txt:3: 120 tokens > max_length 100", "a.txt:9: 130 tokens"])
    assert few.status == WARN                                          # 2 of 40 = 5%: at the edge
    assert few.reason == ("2 of 40 examples (5%) longer than max_length 100 are excluded from training "
                          "(first: a.txt:3: 120 tokens > max_length 100)")
    assert few.fix == "raise max_length to at least 10" and few.details["excluded"] == 2
    many = check([10] * 39, ["x"] * 2)
    assert many.status == FAIL and "(5%)" in many.reason               # 2 of 39 = 5.1%


def _example(sentence):
    return SimpleNamespace(sentence=sentence)


def test_overlap_warns_with_the_shared_sentences_and_passes_with_counts():
    train = [_example("Tôi đi học ."), _example("Trời mưa ."), _example(None)]
    shared = SimpleNamespace(train=SimpleNamespace(examples=train),
                             eval=SimpleNamespace(examples=[_example("tôi  đi học ."), _example("Khác ."),
                                                            _example(None)]))
    check = data_checks.check_overlap(shared)
    assert check.status == WARN and check.reason.startswith("1 eval sentences also occur in the training data")
    assert "'tôi  đi học .'" in check.reason and check.details == {"shared": ["tôi  đi học ."]}
    assert check.fix == "split with `visempar data split --test ...` to keep them apart"
    many = SimpleNamespace(train=SimpleNamespace(examples=[_example(f"câu {i}") for i in range(30)]),
                           eval=SimpleNamespace(examples=[_example(f"câu {i}") for i in range(25)]))
    assert data_checks.check_overlap(many).details == {"shared": [f"câu {i}" for i in range(20)]}
    apart = SimpleNamespace(train=SimpleNamespace(examples=train),
                            eval=SimpleNamespace(examples=[_example("Khác .")]))
    check = data_checks.check_overlap(apart)
    assert (check.status, check.reason, check.details) == (
        PASS, "no sentence shared between 2 training and 1 eval sentences", {})


class _Tokenizer:
    eos_token_id, pad_token_id = 2, 0

    def decode(self, ids):
        return "".join(f"<{i}>" for i in ids)


def _mask_check(rows):
    """check_label_mask on one collated batch of (ids, labels, segment) rows, padded with 0."""
    width = max(len(r[0]) for r in rows)
    pad = lambda xs, v: list(xs) + [v] * (width - len(xs))  # noqa: E731
    batch = {"input_ids": torch.tensor([pad(r[0], 0) for r in rows]),
             "labels": torch.tensor([pad(r[1], -100) for r in rows]),
             "segment": torch.tensor([pad(r[2], 0) for r in rows]),
             "attention_mask": torch.tensor([pad([1] * len(r[0]), 0) for r in rows]),
             "index": torch.tensor(range(10, 10 + len(rows)))}
    trainer = SimpleNamespace(get_train_dataloader=lambda: [batch])
    return data_checks.check_label_mask(SimpleNamespace(stack=SimpleNamespace(tokenizer=_Tokenizer())), trainer)


M = -100
GOOD = ([5, 6, 7, 8, 2], [M, M, 7, 8, 2], [0, 0, 1, 1, 1])


def test_label_mask_passes_and_shows_the_supervised_tokens():
    check = _mask_check([GOOD, ([5, 7, 2], [M, 7, 2], [0, 1, 1])])
    assert (check.status, check.reason) == (PASS, "prompt masked, completion and EOS supervised in 2 collated examples")
    assert check.details["decoded_example"] == "<5><6>[<7>][<8>][<2>]"
    assert check.details["legend"] == "[supervised] unsupervised"
    padded = _mask_check([([5, 7, 2], [M, 7, 2], [0, 1, 1]), GOOD])    # the first row is padded
    assert padded.status == PASS and padded.details["decoded_example"] == "<5>[<7>][<2>]"


@pytest.mark.parametrize("row, problem", [
    (([5, 6, 7, 2], [5, M, 7, 2], [0, 0, 1, 1]), "example 11: prompt tokens are supervised"),
    (([5, 6, 7, 2], [M, M, M, 2], [0, 0, 1, 1]), "example 11: completion tokens are masked"),
    (([5, 6, 7], [M, M, M], [0, 0, 0]), "example 11: completion tokens are masked; example 11: fully masked"),
    (([5, 6, 7, 8], [M, M, 7, 8], [0, 0, 1, 1]), "example 11: EOS is not the last supervised token"),
    (([5, 6, 7, 2], [M, M, 7, M], [0, 0, 1, 1]), "example 11: completion tokens are masked; "
                                                 "example 11: EOS is not the last supervised token"),
])
def test_label_mask_names_each_problem_and_its_example(row, problem):
    check = _mask_check([GOOD, row])
    assert (check.status, check.reason) == (FAIL, problem)
    assert "-100 on the prompt" in check.fix and "pad == eos" in check.fix


def test_label_mask_lists_three_problems_and_counts_the_rest():
    bad = ([5, 6, 7, 2], [5, M, 7, 2], [0, 0, 1, 1])
    three = ("example 10: prompt tokens are supervised; example 11: prompt tokens are "
             "supervised; example 12: prompt tokens are supervised")
    assert _mask_check([bad] * 3).reason == three
    assert _mask_check([bad] * 4).reason == three + " (+1 more)"
    check = _mask_check([bad] * 5)
    assert check.reason == three + " (+2 more)"
    assert check.fix == ("labels must be -100 on the prompt and equal the ids on the completion and its EOS; "
                         "do not let pad == eos mask EOS")
    assert check.details["decoded_example"] == "[<5>]<6>[<7>][<2>]"


def _params(**tensors):
    return {name.replace("__", "."): t for name, t in tensors.items()}


def test_gradient_check_judges_lora_per_module_and_names_a_tensor_without_one():
    params = _params(a__lora_A__w=torch.zeros(2), a__lora_B__w=torch.zeros(2), b__lora_A__w=torch.zeros(2),
                     b__lora_B__w=torch.zeros(2), head=torch.zeros(2))
    got = {"a.lora_A.w": False, "a.lora_B.w": True, "b.lora_A.w": True, "b.lora_B.w": False, "head": True}
    stepped = {"losses": [2.0, 1.7, 1.5], "grad_norms": [0.1234, 0.1, 0.1], "got_grad": got}
    stepped_details = {"losses": [2.0, 1.7, 1.5], "grad_norms": [0.1234, 0.1, 0.1], "steps": 3}
    check, missing = step_checks._gradient_check(params, stepped, 3)
    assert (check.status, missing) == (PASS, [])     # B got one, so A's zero gradient is expected
    assert check.reason == "loss 2.0000 -> 1.5000, grad norm 0.123; every trainable tensor got a gradient"
    assert check.details == {"losses": [2.0, 1.7, 1.5], "grad_norms": [0.1234, 0.1, 0.1], "steps": 3}
    got |= {"b.lora_A.w": False}
    check, missing = step_checks._gradient_check(params, stepped, 3)
    assert check.status == FAIL and missing == ["b.lora_A.w", "b.lora_B.w"]
    assert check.reason == "2 of 5 trainable tensors received no gradient in 3 steps (e.g. b.lora_A.w)"
    assert check.fix == "apply LoRA before activation checkpointing, non-reentrant (A3)"
    assert check.details == stepped_details
    got |= {"a.lora_B.w": False, "a.lora_A.w": True, "head": False}
    assert step_checks._gradient_check(params, stepped, 3)[1] == ["b.lora_A.w", "b.lora_B.w", "head"]


def _moved(before: torch.Tensor, fraction: float) -> torch.Tensor:
    after = before.clone()
    after[: int(round(fraction * before.numel()))] += 1
    return after


def _movement(fractions: dict, dtype=torch.float32, no_grad=()):
    before = {n: torch.zeros(10, dtype=dtype) for n in fractions}
    params = {n: _moved(before[n], f) for n, f in fractions.items()}
    return step_checks._movement_check(params, before, 2e-4, list(no_grad), 3)


def test_movement_passes_with_the_fractions_changed():
    check = _movement({"a": 1.0, "b": 0.5, "c": 0.8, "d": 0.9, "e": 0.6})
    assert (check.status, check.reason) == (
        PASS, "every trainable tensor moved at LR 0.0002; fraction of elements changed min 0.500, median 0.800")
    assert check.details["not_moved"] == {} and check.details["median_fraction_changed"] == pytest.approx(0.8)
    assert (check.details["peak_lr"], check.details["min_fraction_changed"]) == (2e-4, 0.5)


def test_movement_warns_on_sparse_fp32_updates():
    check = _movement({"a": 1.0, "b": 0.4})
    assert check.status == WARN
    assert check.reason == ("1 trainable tensors changed in under 50% of their elements (e.g. b); "
                            "fraction of elements changed min 0.400, median 1.000")
    assert check.fix == "check their gradients and the LR" and check.details["not_moved"] == {}


@pytest.mark.parametrize("fractions, dtype, no_grad, cause", [
    ({"a": 1.0, "b": 0.0}, torch.float32, ["b"], "it received no gradient"),
    ({"a": 1.0, "b": 0.0}, torch.float32, [], "the learning rate 0.0002 is too small to change it"),
    ({"a": 0.5, "b": 0.4}, torch.bfloat16, [], "it is held in bfloat16, and an update of ~0.0002 is below "
                                                "half an ulp of most of its values, so it rounds away (A1/A6)"),
    ({"a": 0.5, "b": 0.4}, torch.float16, [], "it is held in float16"),
])
def test_movement_fails_naming_the_cause(fractions, dtype, no_grad, cause):
    check = _movement(fractions, dtype, no_grad)
    assert check.status == FAIL and cause in check.reason
    assert check.reason.startswith("1 of 2 trainable tensors (almost) did not move after 3 optimizer steps "
                                   "at the peak LR 0.0002 (e.g. b, ")
    assert check.details["not_moved"] == {"b": pytest.approx(fractions["b"])}
    assert check.fix == "keep trainable tensors fp32 and use a learning rate in the optimizer's range"


def test_movement_lists_at_most_20_tensors_that_did_not_move():
    check = _movement({f"t{i:02d}": 0.0 for i in range(25)})
    assert check.status == FAIL and check.reason.startswith("25 of 25 trainable tensors (almost) did not move")
    assert list(check.details["not_moved"]) == [f"t{i:02d}" for i in range(20)]


def test_precision_compares_the_observed_compute_dtype_with_the_config():
    model = torch.nn.Linear(2, 2)
    prepared = SimpleNamespace(stack=SimpleNamespace(compute_dtype="bfloat16", model=model))
    seen = lambda *dtypes: SimpleNamespace(observed_compute_dtype=set(dtypes))  # noqa: E731
    check = step_checks.check_precision(prepared, seen("bfloat16", "unobserved"))
    assert (check.status, check.reason) == (
        PASS, "base layers computed under bf16 autocast in the training steps; trainable tensors stay float32")
    assert check.details == {"expected": "bfloat16", "observed": ["bfloat16"]}
    check = step_checks.check_precision(prepared, seen("float32", "bfloat16"))
    assert check.status == FAIL and check.reason == (
        "the base layers computed in bfloat16, float32 during the training steps, but compute_dtype "
        "resolved to bfloat16")
    assert check.fix == "bf16 must come from autocast (SFTConfig bf16) over fp32 trainable tensors"
    assert check.details == {"expected": "bfloat16", "observed": ["bfloat16", "float32"]}
    unseen = step_checks.check_precision(prepared, seen("unobserved"))
    assert (unseen.status, unseen.reason, unseen.fix, unseen.details) == (
        WARN, "no LoRA-wrapped layer ran, so the compute dtype was not observed", "",
        {"expected": "bfloat16", "observed": []})
    prepared.stack.compute_dtype = "float32"
    assert "computed in fp32" in step_checks.check_precision(prepared, seen("float32")).reason
    prepared.stack.model = _model(("w", torch.float32), ("v", torch.bfloat16))
    assert step_checks.check_precision(prepared, seen("float32")).reason.endswith(
        "trainable tensors stay bfloat16, float32")


def test_memory_estimate_scales_the_steps_growth_to_the_longest_batch(monkeypatch):
    import os
    import resource

    gib = 2**30
    peak = [3 * 2**20]  # KiB: 3 GiB
    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=peak[0]))
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 16 * gib // 4096}[name])
    prepared = SimpleNamespace(config=SimpleNamespace(per_device_train_batch_size=4),
                               train=SimpleNamespace(lengths=SimpleNamespace(lengths=[100, 500, 300])))
    check = step_checks.check_memory(prepared, 2.0, 1000)      # the steps added 1 GiB for 1,000 tokens
    assert check.status == PASS
    assert check.reason == ("about 4.0 GiB at the longest batch (4 x 500 tokens), of 16.0 GiB; "
                            "the steps here peaked at 3.0 GiB")
    assert check.details == {"resident_gib": 2.0, "steps_peak_gib": 3.0, "stepped_tokens": 1000,
                             "longest_batch_tokens": 2000, "estimated_peak_gib": 4.0, "machine_gib": 16.0}
    edge = step_checks.check_memory(prepared, 2.0, 2000 / 12.4)    # 2 + 12.4 = 14.4 = 0.9 x 16
    assert edge.status == PASS
    over = step_checks.check_memory(prepared, 2.0, 2000 / 12.5)
    assert over.status == WARN and over.reason.startswith("about 14.5 GiB at the longest batch (4 x 500 tokens)")
    assert over.details["estimated_peak_gib"] == 14.5 and "activation_checkpointing" in over.fix
    assert over.fix == ("turn on activation_checkpointing, lower per_device_train_batch_size "
                        "(raise gradient_accumulation_steps to keep the batch) or lower max_length")
    for resident, tokens in ((None, 1000), (2.0, 0)):
        check = step_checks.check_memory(prepared, resident, tokens)
        assert (check.status, check.reason) == (PASS, "peak memory not measured on this system")
    shrank = step_checks.check_memory(prepared, 5.0, 1000)      # peak below resident: no growth
    assert shrank.details["estimated_peak_gib"] == 5.0
    peak[0] = 3.14159 * 2**20
    monkeypatch.setattr(os, "sysconf", lambda name: {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 4_000_000}[name])
    odd = step_checks.check_memory(prepared, 2.1066, 1000).details    # reported to 2 decimals
    assert odd == {"resident_gib": 2.11, "steps_peak_gib": 3.14, "stepped_tokens": 1000,
                   "longest_batch_tokens": 2000, "estimated_peak_gib": 4.18, "machine_gib": 15.26}


def test_resident_memory_is_read_from_proc():
    resident = step_checks.resident_gib()
    assert resident is not None and 0.01 < resident < 1024


def _model(*named):
    """A module with trainable parameters of the given (name, dtype) and one frozen one."""
    model = torch.nn.Module()
    for name, dtype in named:
        model.register_parameter(name, torch.nn.Parameter(torch.zeros(3, dtype=dtype)))
    model.register_parameter("frozen", torch.nn.Parameter(torch.zeros(5), requires_grad=False))
    return model


def test_dtypes_warn_on_low_precision_trainable_tensors():
    prepared = SimpleNamespace(stack=SimpleNamespace(model=_model(("w", torch.float32), ("v", torch.float64))))
    check = model_checks.check_dtypes(prepared)
    assert (check.status, check.reason) == (PASS, "all 2 trainable tensors are float32, float64")
    assert check.details == {"trainable_dtypes": ["float32", "float64"], "low_precision": []}
    prepared.stack.model = _model(("w", torch.float32), ("v", torch.bfloat16), ("u", torch.float16))
    check = model_checks.check_dtypes(prepared)
    assert check.status == WARN and check.reason == (
        "2 of 3 trainable tensors are held in bfloat16: an update smaller than half a bf16 ulp (2^-9 "
        "relative, ~0.002 at 1.0) rounds away, so small LRs freeze them")
    assert check.fix == "keep trainable tensors fp32 (adapter_dtype: float32); compute in bf16 via autocast"
    prepared.stack.model = _model(*((f"p{i:02d}", torch.bfloat16) for i in range(25)))
    assert model_checks.check_dtypes(prepared).details["low_precision"] == [f"p{i:02d}" for i in range(20)]
    assert check.details == {"trainable_dtypes": ["bfloat16", "float16", "float32"], "low_precision": ["v", "u"]}


def test_lora_check_counts_the_trainable_share_and_fails_without_lora():
    model = _model(("lora_A", torch.float32), ("lora_B", torch.float32), ("bias", torch.float32))
    prepared = SimpleNamespace(stack=SimpleNamespace(model=model, steps=["load", "lora", "checkpointing"]))
    check = model_checks.check_lora(prepared)
    assert (check.status, check.reason) == (
        PASS, "2 LoRA tensors, 9 trainable of 14 parameters (64.29%); built load -> lora -> checkpointing")
    assert check.details == {"trainable_tensors": 3, "lora_tensors": 2, "trainable_parameters": 9,
                             "all_parameters": 14, "build_order": ["load", "lora", "checkpointing"]}
    prepared.stack.model = _model(("bias", torch.float32))
    check = model_checks.check_lora(prepared)
    assert (check.status, check.reason, check.fix) == (FAIL, "no LoRA tensor is trainable",
                                                       "apply LoRA with visempar.model.build")
    assert check.details["lora_tensors"] == 0 and check.details["trainable_tensors"] == 1


def test_checkpointing_mode_is_read_off_the_checkpointing_modules():
    from functools import partial

    def model_with(**flags):
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
        for key, value in flags.items():
            setattr(model[1], key, value)
        return model

    assert model_checks.checkpointing_mode(model_with()) is None
    assert model_checks.checkpointing_mode(model_with(gradient_checkpointing=False)) is None
    func = lambda reentrant: partial(print, use_reentrant=reentrant)  # noqa: E731
    assert model_checks.checkpointing_mode(model_with(
        gradient_checkpointing=True, _gradient_checkpointing_func=func(False))) == "non-reentrant"
    assert model_checks.checkpointing_mode(model_with(
        gradient_checkpointing=True, _gradient_checkpointing_func=func(True))) == "reentrant"
    assert model_checks.checkpointing_mode(model_with(gradient_checkpointing=True)) == "reentrant"  # torch's default


def test_eval_path_runs_the_dev_scorer_as_training_will_and_reports_it(monkeypatch):
    """The evaluation the trainer runs, then generation through `dev_smatch` on two eval
    examples with the run's concepts and compute dtype, at most 64 new tokens each."""
    from visempar.infer import generate
    from visempar.infer.budget import TokenBudget

    calls = []

    def dev_smatch(model, tokenizer, builder, examples, **kwargs):
        calls.append((model, tokenizer, builder, examples, kwargs))
        return generate.DevScore(0.4567, ["(a / b)", "(c"], ["parsed", "repaired"], 9, {"eos": 2})

    monkeypatch.setattr(generate, "dev_smatch", dev_smatch)
    on = {"negation": "next-word", "copy_words": "nearest", "surplus_words": "drop", "missing_words": "add",
          "names": "capitalized"}
    prepared = SimpleNamespace(config=SimpleNamespace(concepts="underscore", passes=on),
                               budget=TokenBudget(cap=300, ratio=2.0),
                               stack=SimpleNamespace(tokenizer="tok", compute_dtype="bfloat16"), builder="builder",
                               eval=SimpleNamespace(examples=["e1", "e2", "e3"]), lexicon="lexicon")
    trainer = SimpleNamespace(model="model", evaluate=lambda: {"eval_loss": 1.23456, "eval_runtime": 0.1})
    check = step_checks.check_eval_path(prepared, trainer)
    assert (check.status, check.reason) == (
        PASS, "eval loss 1.2346; generated 2 graphs (parsed, repaired), Smatch F1 0.457")
    assert check.details == {"eval_loss": 1.23456, "generations": ["(a / b)", "(c"], "smatch_f1": 0.4567}
    (model, tok, builder, examples, kwargs), = calls
    assert (model, tok, builder, examples) == ("model", "tok", "builder", ["e1", "e2"])
    assert kwargs == {"budget": TokenBudget(cap=64, ratio=2.0), "batch_size": 2, "concepts": "underscore",
                      "compute_dtype": "bfloat16", "lexicon": "lexicon",
                      "passes": Passes(**on)}
    prepared.budget = TokenBudget(cap=40)
    step_checks.check_eval_path(prepared, trainer)
    assert calls[-1][4]["budget"] == TokenBudget(cap=40)


@pytest.mark.parametrize("loss", [None, float("nan"), float("inf")])
def test_eval_path_fails_on_a_missing_or_non_finite_eval_loss(monkeypatch, loss):
    from visempar.infer import generate

    monkeypatch.setattr(generate, "dev_smatch", lambda *a, **k: pytest.fail("generated after a bad eval loss"))
    metrics = {"eval_runtime": 0.1} if loss is None else {"eval_loss": loss}
    check = step_checks.check_eval_path(SimpleNamespace(config=None), SimpleNamespace(evaluate=lambda: metrics))
    assert (check.status, check.reason, check.fix, check.details) == (
        FAIL, f"eval loss is {loss}", "check the eval data", metrics)


class _WordTokenizer:
    """One id per character; `shift` changes the ids from a position on (a prompt that differs)."""

    def __init__(self, shift_from=None):
        self.shift_from = shift_from

    def __call__(self, text, add_special_tokens=True):
        ids = [ord(c) for c in text]
        if self.shift_from is not None:
            ids = ids[: self.shift_from] + [i + 1000 for i in ids[self.shift_from:]]
        return {"input_ids": ids}

    def decode(self, ids):
        return "".join(chr(i % 1000) for i in ids)


class _Builder:
    chat_template = None
    templated = False

    def prompt(self, sentence):
        return f"S: {sentence}\nGraph:\n"


def _prompted(n, tokenizer_at_inference, builder=None):
    builder = builder or _Builder()
    train_tok = _WordTokenizer()
    examples = [SimpleNamespace(sentence=f"câu {i}", location=f"train.txt:{3 * i + 1}") for i in range(n)]
    rows = []
    for e in examples:
        ids = train_tok(builder.prompt(e.sentence))["input_ids"]
        rows.append({"input_ids": ids + [7, 8], "segment": [0] * len(ids) + [1, 1]})
    return SimpleNamespace(stack=SimpleNamespace(tokenizer=tokenizer_at_inference), builder=builder,
                           train=SimpleNamespace(rows=rows, examples=examples))


def test_prompt_consistency_passes_on_identical_ids_and_shows_the_prompt():
    prepared = _prompted(3, _WordTokenizer())
    prepared.train.examples[1].sentence = None                    # trained on the prompt of ""
    ids = _WordTokenizer()(_Builder().prompt(""))["input_ids"]
    prepared.train.rows[1] = {"input_ids": ids + [7], "segment": [0] * len(ids) + [1]}
    check = data_checks.check_prompt_consistency(prepared)
    assert (check.status, check.reason) == (PASS, "training and inference prompts are token-identical and "
                                                  "end on a newline")
    assert check.details == {"prompt": "S: câu 0\nGraph:\n"}


def test_prompt_consistency_names_the_example_and_the_first_differing_token():
    check = data_checks.check_prompt_consistency(_prompted(3, _WordTokenizer(shift_from=4)))
    assert check.status == FAIL
    assert check.reason == ("train.txt:1: the inference prompt differs from the training prompt at token 4: "
                            "training 'âu 0\\nGra' vs inference 'âu 0\\nGra'")
    assert check.fix == "build prompts with visempar.data.prompts.PromptBuilder in both places"
    assert check.details == {}


def test_prompt_consistency_reads_the_first_eight_examples_and_a_prompt_that_is_a_prefix():
    prepared = _prompted(10, _WordTokenizer())
    prepared.train.rows[8]["input_ids"][0] += 1                   # the 9th is not read
    assert data_checks.check_prompt_consistency(prepared).status == PASS
    prepared.train.rows[7]["segment"][-2] = 0                     # a training prompt one token longer
    check = data_checks.check_prompt_consistency(prepared)
    assert check.status == FAIL and check.reason.startswith("train.txt:22: ") and " at token 16: " in check.reason


def test_prompt_that_does_not_end_on_a_newline_fails():
    class NoNewline(_Builder):
        def prompt(self, sentence):
            return f"S: {sentence} G:"

    check = data_checks.check_prompt_consistency(_prompted(2, _WordTokenizer(), NoNewline()))
    assert (check.status, check.reason, check.fix) == (
        FAIL, "the prompt does not end on a newline (token boundary)", "end prompts with \\n")


def _checkpointed(reentrant, embedding_grad=False):
    from functools import partial

    model = torch.nn.Sequential(torch.nn.Embedding(4, 2), torch.nn.Linear(2, 2))
    model[0].weight.requires_grad_(embedding_grad)
    if reentrant is not None:
        model[1].gradient_checkpointing = True
        model[1]._gradient_checkpointing_func = partial(print, use_reentrant=reentrant)
    model.get_input_embeddings = lambda: model[0]
    return SimpleNamespace(stack=SimpleNamespace(model=model))


@pytest.mark.parametrize("reentrant, embedding_grad, want", [
    (None, False, (PASS, "activation checkpointing off", "", {"mode": None})),
    (False, False, (PASS, "non-reentrant activation checkpointing, enabled after LoRA", "", {"mode": "non-reentrant"})),
    (True, True, (WARN, "reentrant activation checkpointing (works, with input grads enabled)",
                  "prefer use_reentrant: False", {"mode": "reentrant"})),
    (True, False, (FAIL, "reentrant activation checkpointing with a frozen embedding whose output does not "
                         "require grad: the checkpointed layers (and their LoRA) get no gradient (A3)",
                   "use non-reentrant checkpointing after LoRA (visempar's builder does)", {"mode": "reentrant"})),
])
def test_checkpointing_check_reads_the_mode_and_probes_the_embedding(reentrant, embedding_grad, want):
    check = model_checks.check_checkpointing(_checkpointed(reentrant, embedding_grad))
    assert (check.status, check.reason, check.fix, check.details) == want
