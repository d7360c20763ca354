"""The 4-bit path on the CPU: QLoRA's whole life (preflight, train, resume, evaluate,
predict, export) with bitsandbytes' CPU kernels, and the seeds' faults caught there too."""

import json
import os
import signal

import pytest
import torch
from click.testing import CliRunner

from tests.conftest import tiny_config
from visempar.cli import main
from visempar.model.build import cpu_4bit_problem, linear4bit_layers
from visempar.preflight.report import FAIL, PASS, WARN
from visempar.preflight.run import preflight

quiet = lambda *_: None  # noqa: E731

pytestmark = pytest.mark.skipif(not torch.cuda.is_available() and cpu_4bit_problem() is not None,
                                reason=f"no 4-bit support here: {cpu_4bit_problem()}")


def config4(model, out=None, **kw):
    return tiny_config(model, out, load_in_4bit="true", compute_dtype="auto", **kw)


def status(report, check_id):
    return next(c for c in report.checks if c.id == check_id)


@pytest.fixture(scope="module")
def run4(tiny_model, tmp_path_factory):
    from visempar.train.run import train

    out = tmp_path_factory.mktemp("q") / "run"
    summary = train(config4(tiny_model, out, eval_steps=3, save_steps=3), log=quiet)
    assert summary["status"] == "completed", summary
    return out, summary


def test_preflight_passes_and_names_the_4bit_layers(tiny_model):
    report, _ = preflight(config4(tiny_model), log=quiet)
    assert report.failed(strict=False) == [], report.table()
    built = status(report, "build").reason
    assert "Linear4bit layers, nf4, double-quantised, storage uint8" in built
    for check in ("model.dtypes", "model.lora", "model.checkpointing", "train.backward",
                  "train.movement", "train.precision", "eval.path", "state.restored"):
        assert status(report, check).status == PASS, (check, status(report, check).reason)


def test_training_generates_and_trains_again_on_4bit(tiny_model):
    """The trap of bitsandbytes' CPU repacking: train -> generate -> train -> eval -> train."""
    from visempar.infer.generate import generate
    from visempar.train.run import prepare

    p = prepare(config4(tiny_model), log=quiet)
    model = p.stack.model
    assert linear4bit_layers(model) and all(not m.support_avx512bf16_for_cpu for m in linear4bit_layers(model))
    opt = torch.optim.AdamW([t for t in model.parameters() if t.requires_grad], lr=1e-3)
    batch = torch.tensor([p.train.rows[0]["input_ids"]])
    losses = []
    for _ in range(3):
        model.train()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
        generate(model, p.stack.tokenizer, p.builder, ["tôi đi học ."], budget=8)
        model.eval()
        with torch.no_grad():
            losses.append(model(input_ids=batch, labels=batch).loss.item())
    assert all(torch.isfinite(torch.tensor(losses))), losses


def test_a3_checkpointing_before_lora_caught_on_4bit(tiny_model):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from visempar.model.build import Stack, load_base, load_tokenizer
    from visempar.model.device import compute_dtype
    from visempar.train.run import prepare

    config = config4(tiny_model)
    base = load_base(tiny_model, quantize=True, compute=compute_dtype(config.compute_dtype))
    base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=True,
                                           gradient_checkpointing_kwargs={"use_reentrant": True})
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    base.get_input_embeddings()._forward_hooks.clear()
    stack = Stack(model, load_tokenizer(tiny_model), tiny_model, True, "float32",
                  ["load", "prepare_kbit", "checkpointing", "lora"])
    report, _ = preflight(config, prepared=prepare(config, stack=stack, log=quiet), log=quiet)
    assert status(report, "model.checkpointing").status == FAIL
    assert status(report, "train.backward").status == FAIL


def test_a1_bf16_adapters_at_small_lr_caught_on_4bit(tiny_model):
    report, _ = preflight(config4(tiny_model, adapter_dtype="bfloat16", learning_rate=1e-5), log=quiet)
    assert status(report, "model.dtypes").status == WARN
    move = status(report, "train.movement")
    assert move.status == FAIL and "rounds away" in move.reason


def test_4bit_run_completes_and_records_it(run4):
    out, summary = run4
    info = json.loads((out / "run.json").read_text())
    assert info["quantized"] is True and info["build_order"][:3] == ["load", "prepare_kbit", "lora"]
    assert summary["health"]["skipped_steps"] == 0 and summary["steps"] == 6


def test_evaluate_and_predict_load_the_4bit_base_with_the_adapter(run4, tmp_path):
    from visempar.infer.load import load_run

    out, _ = run4
    loaded = load_run(out)
    assert len(linear4bit_layers(loaded.model)) > 0
    res = CliRunner().invoke(main, ["evaluate", "--metric", "smatch", "--run", str(out),
                                    "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "e.json").read_text())["invalid"] == 0
    src = tmp_path / "in.txt"
    src.write_text("tôi muốn đi học .\nmẹ nấu cơm .\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["predict", "--run", str(out), "--input", str(src), "--output",
                                    str(tmp_path / "p.txt")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "p.txt").read_text().count("#::snt") == 2


def test_export_dequantises_and_merges_within_tolerance(run4, tmp_path):
    """The merged fp32 model computes what the 4-bit base + adapter computed: the base
    weights are the dequantised NF4 ones, so only the compute dtype differs."""
    from transformers import AutoModelForCausalLM

    from visempar.infer.load import load_run
    from visempar.model.device import compute_dtype

    out, _ = run4
    res = CliRunner().invoke(main, ["export", "--run", str(out), "--merge", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert not linear4bit_layers(merged)
    loaded = load_run(out)
    ids = torch.tensor([[1, 50, 60, 70, 80, 90]])
    bf16 = compute_dtype("auto") == "bfloat16"
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        a, b = merged(ids).logits.float(), loaded.model(ids).logits.float()
    tolerance = 0.05 if bf16 else 1e-3            # bf16 compute on both sides, or fp32
    assert (a - b).abs().max().item() <= tolerance * a.abs().max().item()
    assert torch.equal(a.argmax(-1), b.argmax(-1))


def test_4bit_interrupt_then_resume_equals_uninterrupted(tiny_model, tmp_path):
    from tests.test_train import _At, _adapter
    from visempar.train.run import train

    straight = train(config4(tiny_model, tmp_path / "a", save_steps=100), log=quiet)
    cut = config4(tiny_model, tmp_path / "b", save_steps=100)
    first = train(cut, callbacks=[_At(2, lambda: os.kill(os.getpid(), signal.SIGINT))], log=quiet)
    assert straight["status"] == "completed" and first["status"] == "interrupted"
    resumed = train(cut, resume=True, log=quiet)
    assert resumed["status"] == "completed" and resumed["resumed_from"] == "checkpoint-3"
    a, b = _adapter(tmp_path / "a"), _adapter(tmp_path / "b")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_4bit_true_without_support_fails_with_the_reason(tiny_model, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    monkeypatch.setattr("visempar.model.build.cpu_4bit_problem", lambda: "bitsandbytes cannot quantise here")
    report, _ = preflight(config4(tiny_model), log=quiet)
    env = report.checks[0]
    assert env.id == "env.stack" and env.status == FAIL
    assert "bitsandbytes cannot quantise here" in env.reason and "load_in_4bit: false" in env.fix
