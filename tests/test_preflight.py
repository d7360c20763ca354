"""Preflight: the healthy default passes; each broken setup fails with the right check."""

import pytest
import torch

from tests.conftest import tiny_config
from visempar.preflight.report import FAIL, PASS, WARN
from visempar.preflight.run import preflight

quiet = lambda *_: None  # noqa: E731


def run(config, prepared=None, **kw):
    report, _ = preflight(config, prepared=prepared, log=quiet, **kw)
    return report


def status(report, check_id):
    check = report.get(check_id)
    assert check is not None, [c.id for c in report.checks]
    return check


def test_healthy_default_passes_and_leaves_no_trace(tiny_model):
    from visempar.train.run import prepare

    config = tiny_config(tiny_model)
    prepared = prepare(config, log=quiet)
    before = {n: p.detach().clone() for n, p in prepared.stack.model.named_parameters()}
    rng = torch.get_rng_state()
    hooks = dict(prepared.stack.model._forward_hooks)
    report = run(config, prepared)
    assert report.failed(strict=True) == [], report.table()
    assert sum(c.seconds for c in report.checks) <= report.seconds < 600
    assert dict(prepared.stack.model._forward_hooks) == hooks     # the preflight trainer let go of the model
    ids = [c.id for c in report.checks]
    for needed in ("env.stack", "config.lr", "config.schedule", "data.lengths", "data.mask",
                   "data.prompt", "data.overlap", "model.dtypes", "model.lora", "model.checkpointing",
                   "train.backward", "train.movement", "train.precision", "train.memory", "eval.path",
                   "state.restored"):
        assert needed in ids
    assert "LR step 1 0, end of warmup 0.002" in status(report, "config.schedule").reason
    build = status(report, "build")
    assert build.reason == (f"model {prepared.stack.model_path} (float32 base), {len(prepared.train.rows)} "
                            f"train / {len(prepared.eval.rows)} eval examples")
    assert build.details == {"quantized": False, "base": "float32 base"} and 0 < build.seconds < 60
    assert "[" in status(report, "data.mask").details["decoded_example"]
    after = dict(prepared.stack.model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert torch.equal(rng, torch.get_rng_state())


def test_state_left_changed_by_preflight_is_a_failure(tiny_model, monkeypatch):
    """Preflight steps the real stack, then puts weights and RNG states back so that `train`
    starts as if it had not run; if that ever breaks, the report says so."""
    import visempar.preflight.run as preflight_run

    monkeypatch.setattr(preflight_run, "_set_rng_state", lambda state: None)
    check = status(run(tiny_config(tiny_model)), "state.restored")
    assert (check.status, check.reason) == (FAIL, "after preflight: an RNG state differs")


def test_a_trainer_that_cannot_be_built_is_a_failure_not_a_crash(tiny_model):
    def refused(*args, **kwargs):
        raise ValueError("adamw_bogus is not a valid OptimizerNames")

    report = run(tiny_config(tiny_model), make_trainer_fn=refused)
    check = status(report, "train.trainer")
    assert check.status == FAIL
    assert check.reason.startswith("ValueError: adamw_bogus is not a valid OptimizerNames (at test_preflight.py:")
    assert check.fix == "fix the setting named above: `visempar train` builds the same trainer"
    assert report.get("train.backward") is None and status(report, "state.restored").status == PASS


def test_memory_estimate_for_the_longest_batch_warns_before_a_run(tiny_model, monkeypatch):
    """The peak the real steps reached, scaled to the longest batch; a machine too small
    for it is a warning that names the fixes."""
    import os

    report = run(tiny_config(tiny_model, max_length=512))
    memory = status(report, "train.memory")
    d = memory.details
    assert memory.status == PASS and d["longest_batch_tokens"] == 4 * report.get("data.lengths").details["tokens"]["max"]
    assert d["resident_gib"] <= d["estimated_peak_gib"] and d["stepped_tokens"] > 0
    real = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: 1 if name == "SC_PHYS_PAGES" else real(name))
    small = status(run(tiny_config(tiny_model)), "train.memory")
    assert small.status == WARN and "activation_checkpointing" in small.fix


def test_a1_a6_bf16_trainable_tensors_at_small_lr(tiny_model):
    report = run(tiny_config(tiny_model, adapter_dtype="bfloat16", learning_rate=1e-5))
    assert status(report, "model.dtypes").status == WARN
    move = status(report, "train.movement")
    assert move.status == FAIL and "bfloat16" in move.reason and "rounds away" in move.reason


def test_a2_learning_rate_far_too_small(tiny_model):
    report = run(tiny_config(tiny_model, learning_rate=1e-8))
    check = status(report, "config.lr")
    assert check.status == FAIL and "far below the adamw range" in check.reason
    muon_like = run(tiny_config(tiny_model, learning_rate=2e-2))
    assert status(muon_like, "config.lr").status == WARN
    assert "muon" in status(muon_like, "config.lr").reason


def test_a3_reentrant_checkpointing_before_lora(tiny_model):
    """The builder cannot be told to do this; a hand-built stack shows what preflight catches."""
    from peft import LoraConfig, get_peft_model

    from visempar.model.build import Stack, load_base, load_tokenizer
    from visempar.train.run import prepare

    config = tiny_config(tiny_model)
    base = load_base(tiny_model, quantize=False, compute="float32")
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": True})
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                            task_type="CAUSAL_LM"))
    # transformers 5 and peft each add an input-grad hook; the failing runs had none
    base.get_input_embeddings()._forward_hooks.clear()
    stack = Stack(model, load_tokenizer(tiny_model), tiny_model, False, "float32",
                  ["load", "checkpointing", "lora"])
    report = run(config, prepare(config, stack=stack, log=quiet))
    assert status(report, "model.checkpointing").status == FAIL
    backward = status(report, "train.backward")
    assert backward.status == FAIL and "received" in backward.reason
    assert backward.fix == "apply LoRA before activation checkpointing, non-reentrant (A3)"
    movement = status(report, "train.movement")
    assert (movement.status, movement.reason, movement.fix) == (
        FAIL, "not run: the backward pass failed", "fix train.backward first")


@pytest.mark.parametrize("weight", [None, 0.0, 1.0])
def test_a_trainable_tensor_outside_the_graph_gets_no_gradient_and_does_not_move(tiny_model, weight):
    """Backward runs, yet one trainable tensor gets no gradient: never reached (a head that is
    not used, an adapter on a bypassed module) or reached with weight 0. The steps name it,
    and the movement check names why. A one-element tensor that is used passes."""
    from visempar.train.run import prepare

    config = tiny_config(tiny_model)
    prepared = prepare(config, log=quiet)
    model = prepared.stack.model
    extra = torch.nn.Parameter(torch.ones(1))
    model.base_model.register_parameter("extra", extra)
    hook = None
    if weight is not None:
        hook = model.get_input_embeddings().register_forward_hook(lambda m, a, out: out + weight * extra)
    try:
        report = run(config, prepared)
    finally:
        if hook is not None:
            hook.remove()
    backward, movement = status(report, "train.backward"), status(report, "train.movement")
    if weight:
        assert backward.status == PASS and movement.status == PASS, report.table()
        return
    assert backward.status == FAIL and backward.reason.startswith("1 of ")
    assert backward.reason.endswith("trainable tensors received no gradient in 2 steps (e.g. base_model.extra)")
    assert movement.status == FAIL and movement.reason.endswith("it received no gradient")
    assert "did not move after 2 optimizer steps" in movement.reason


def test_a4_schedule_in_optimizer_steps_and_endless_warmup(tiny_model):
    report = run(tiny_config(tiny_model, max_steps=-1, num_train_epochs=1,
                             gradient_accumulation_steps=4, per_device_train_batch_size=4))
    reason = status(report, "config.schedule").reason
    assert reason.startswith("10 optimizer steps = ceil(40 micro-batches / 4 accumulation)")
    bad = run(tiny_config(tiny_model, max_steps=10, warmup=40))
    assert status(bad, "config.schedule").status == FAIL
    assert "never ends" in status(bad, "config.schedule").reason


@pytest.mark.parametrize("where, name", [("visempar.infer.generate", "generate"),
                                         ("visempar.infer.generate", "to_graph_result"),
                                         ("visempar.scoring.files", "score_texts")])
def test_b1_broken_evaluation_path(tiny_model, monkeypatch, where, name):
    """A bug anywhere on the evaluation path (generation, the way back to a graph, the
    scorer) fails eval.path, naming the exception and where it was raised."""
    import importlib

    def broken(*args, step=None, **kwargs):
        return step % 500  # the real bug: called without step

    monkeypatch.setattr(importlib.import_module(where), name, broken)
    check = status(run(tiny_config(tiny_model)), "eval.path")
    assert check.status == FAIL and "TypeError" in check.reason and "B1" in check.fix
    assert "(at test_preflight.py:" in check.reason          # the line that raised


def run_with_fault(tiny_model, attach):
    """Preflight of the default config with a fault hooked into its model (`attach(model)`
    returns the hook's handle), removed afterwards."""
    from visempar.train.run import prepare

    config = tiny_config(tiny_model)
    prepared = prepare(config, log=quiet)
    handle = attach(prepared.stack.model)
    try:
        return run(config, prepared)
    finally:
        handle.remove()


def test_b2_nan_producing_batch(tiny_model):
    report = run_with_fault(tiny_model, lambda model: model.get_input_embeddings().register_forward_hook(
        lambda m, a, out: out * float("nan") if m.training else out))
    check = status(report, "train.backward")
    assert check.status == FAIL and check.reason.startswith("non-finite loss nan at step 1 on examples [")
    assert check.fix == "inspect those examples; lower the LR; never clamp NaN to zero"
    assert check.details == {"losses": ["nan"]}
    movement = status(report, "train.movement")
    assert (movement.status, movement.reason, movement.fix) == (
        FAIL, "not run: the forward pass failed", "fix train.backward first")


def test_finite_loss_with_a_non_finite_gradient(tiny_model):
    report = run_with_fault(tiny_model, lambda model: next(
        p for n, p in model.named_parameters() if "lora_B" in n).register_hook(lambda grad: grad * float("inf")))
    check = status(report, "train.backward")
    assert check.status == FAIL and check.reason.startswith("non-finite gradient norm at step 1 on examples [")
    assert check.fix == "lower the LR; check the data; use fp32 trainable tensors"
    assert len(check.details["losses"]) == 1 and check.details["grad_norms"] in (["nan"], ["inf"])
    movement = status(report, "train.movement")
    assert (movement.status, movement.reason, movement.fix) == (
        FAIL, "not run: the backward pass failed", "fix train.backward first")


def test_d2_max_length_that_truncates(tiny_model):
    check = status(run(tiny_config(tiny_model, max_length=96)), "data.lengths")
    assert check.status == FAIL and "longer than max_length 96 are excluded" in check.reason


def test_d3_inference_prompt_differs_from_training(tiny_model):
    from visempar.data.encode import encode_example
    from visempar.data.prompts import PromptBuilder
    from visempar.train.run import prepare

    class Drifted(PromptBuilder):
        def prompt(self, sentence):
            return super().prompt(sentence).replace("AMR:\n", "AMR: \n")

    config = tiny_config(tiny_model)
    prepared = prepare(config, log=quiet)
    drifted = Drifted("baseline", prepared.stack.tokenizer)
    prepared.train.rows = [encode_example(prepared.stack.tokenizer, drifted, e, i)
                           for i, e in enumerate(prepared.train.examples)]
    check = status(run(config, prepared), "data.prompt")
    assert check.status == FAIL and "differs from the training prompt" in check.reason


@pytest.mark.parametrize("fault", ["prompt-supervised", "eos-masked"])
def test_d7_labels_that_supervise_the_prompt_or_mask_eos(tiny_model, fault):
    from visempar.train.run import prepare

    config = tiny_config(tiny_model)
    prepared = prepare(config, log=quiet)
    for row in prepared.train.rows:
        if fault == "prompt-supervised":
            row["labels"] = list(row["input_ids"])
        else:
            row["labels"] = row["labels"][:-1] + [-100]
    check = status(run(config, prepared), "data.mask")
    assert check.status == FAIL
    assert ("prompt tokens are supervised" if fault == "prompt-supervised" else "EOS") in check.reason


def test_cli_preflight_exit_codes_and_json(tiny_model, tmp_path):
    import json

    from click.testing import CliRunner

    from visempar.cli import main

    out = tmp_path / "pf.json"
    ok = CliRunner().invoke(main, ["preflight", "--model", tiny_model, "--max-steps", "4",
                                   "--json", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "checks, 0 failed, 0 warnings" in ok.output
    assert json.loads(out.read_text())["failed"] == []
    bad = CliRunner().invoke(main, ["preflight", "--model", tiny_model, "--max-length", "64"])
    assert bad.exit_code == 1 and "data.lengths" in bad.output
    typo = CliRunner().invoke(main, ["preflight", "--model", tiny_model, "--set", "lora_rank=8"])
    assert typo.exit_code != 0 and "unknown key 'lora_rank'" in typo.output
    statuses = {c["id"]: c["status"] for c in json.loads(out.read_text())["checks"]}
    assert len(statuses) >= 15 and set(statuses.values()) == {PASS}


def test_bf16_compute_is_observed_under_autocast(tiny_model):
    """compute_dtype bfloat16 on CPU: the base layers compute in bf16, adapters stay fp32."""
    report = run(tiny_config(tiny_model, compute_dtype="bfloat16"))
    check = status(report, "train.precision")
    assert check.status == PASS, report.table()
    assert check.details == {"expected": "bfloat16", "observed": ["bfloat16"]}
    assert "float32" in check.reason and status(report, "train.backward").status == PASS


def test_bf16_configured_but_not_in_effect_fails(tiny_model, monkeypatch):
    """The stack says bf16 but the trainer computes in fp32 (autocast never switched on)."""
    from visempar.train import trainer

    original = trainer.sft_config

    def without_autocast(config, schedule, output_dir, compute):
        return original(config, schedule, output_dir, "float32")  # the trainer's own idea of the dtype

    monkeypatch.setattr(trainer, "sft_config", without_autocast)
    check = status(run(tiny_config(tiny_model, compute_dtype="bfloat16")), "train.backward")
    assert check.status == FAIL
    assert "computed in float32" in check.reason and "compute_dtype resolved to bfloat16" in check.reason


def test_hub_model_offline_fails_with_the_choices(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check = status(run(tiny_config("Qwen/Qwen2.5-0.5B-Instruct")), "model.source")
    assert check.status == FAIL
    for word in ("Qwen/Qwen2.5-0.5B-Instruct", "smollm2", "tiny", ".gguf", "local model directory"):
        assert word in check.reason
    assert "fix the config or data" not in check.fix


def test_hub_unreachable_is_named_without_retries(monkeypatch):
    from visempar.model.resolve import ModelSourceError, resolve_model

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: refused at once
    with pytest.raises(ModelSourceError, match=r"Qwen/Qwen2.5-0.5B: not in the HF cache and the hub "
                                               r"\(127.0.0.1\) cannot be reached.*smollm2"):
        resolve_model("Qwen/Qwen2.5-0.5B")
    with pytest.raises(ModelSourceError, match="no such directory"):
        resolve_model("./no-such-model")


def test_d3_input_normalization_is_the_same_in_training_and_prediction(tiny_model, trained_run):
    """`input_normalization: lower` lower-cases the trained prompts and the prompts of
    prediction alike, and the D3 check compares the two."""
    from visempar.data.encode import prompt_ids
    from visempar.infer.load import load_run
    from visempar.train.run import prepare

    config = tiny_config(tiny_model, input_normalization="lower")
    prepared = prepare(config, log=quiet)
    assert status(run(config, prepared), "data.prompt").status == PASS
    loaded = load_run(trained_run)
    loaded.builder.normalization = "lower"              # as a run trained with `lower` loads
    sentence = "Mẹ tôi nấu_cơm ."
    trained = prepared.builder.prompt(sentence)
    assert "mẹ tôi nấu cơm ." in trained and "Mẹ" not in trained
    assert prompt_ids(loaded.tokenizer, loaded.builder, sentence) == prompt_ids(
        prepared.stack.tokenizer, prepared.builder, sentence)
