"""Training: config, schedule, builder order, label masks, monitor, resume, signals, DDP."""

import json
import math
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainerCallback

from tests.conftest import ROOT, tiny_config, write
from visempar.cli.training import exit_status
from visempar.amr import read_corpus
from visempar.data.corpus import sample_path
from visempar.data.encode import IGNORE, encode_example
from visempar.data.prompts import TASK2, PromptBuilder
from visempar.config import ConfigError, load_config
from visempar.train.schedule import plan



def test_unknown_config_key_names_file_line_and_key(tmp_path):
    path = write(tmp_path, "c.yaml", "model: tiny\nlearning_rat: 0.001\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)"):
        load_config(path)


def test_bad_values_are_refused_with_the_key(tmp_path):
    with pytest.raises(ConfigError, match="variant must be one of baseline, mtup"):
        load_config(write(tmp_path, "c.yaml", "variant: seq2seq\n"))
    with pytest.raises(ConfigError, match="per_device_train_batch_size must be int"):
        load_config(None, {"per_device_train_batch_size": "eight"})
    with pytest.raises(ConfigError, match="warmup is a ratio"):
        load_config(None, {"warmup": 2.5})


def test_shipped_configs_load():
    from visempar.config import CONFIG_DIR

    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    assert {"tiny-baseline", "smollm2-vlsp", "qwen3-14b-qlora", "qwen3-1.7b-qlora"} <= set(names)
    for name in names:
        config = load_config(name)
        assert config.learning_rate > 0
    qwen3 = load_config("qwen3-14b-qlora")
    assert (qwen3.lora_r, qwen3.lora_alpha, qwen3.learning_rate, qwen3.num_train_epochs) == (128, 256, 2e-4, 10)
    assert len(qwen3.lora_target_modules) == 7 and qwen3.enable_thinking is False


def test_schedule_is_sized_in_optimizer_steps():
    config = tiny_config("tiny", gradient_accumulation_steps=4, max_steps=-1, num_train_epochs=2,
                         per_device_train_batch_size=8, warmup=0.1)
    s = plan(config, examples=160)
    assert s.micro_batches_per_epoch == 20
    assert s.steps_per_epoch == 5 and s.total_steps == 10       # not 40 (micro-batches)
    assert s.warmup_steps == 1
    assert s.lr_at["end of warmup"] == pytest.approx(2e-3)
    assert 0 < s.lr_at["last step"] < 2e-3
    # a remainder window still counts as a step; two ranks halve the data per rank
    assert plan(tiny_config("tiny", gradient_accumulation_steps=3, max_steps=-1, num_train_epochs=1,
                            per_device_train_batch_size=8), 160).total_steps == 7
    assert plan(tiny_config("tiny", max_steps=-1, num_train_epochs=1, per_device_train_batch_size=8),
                160, world_size=2).total_steps == 10


def test_label_mask_supervises_completion_and_eos_only(tiny_model):
    from visempar.model.build import load_tokenizer

    tok = load_tokenizer(tiny_model)
    assert tok.pad_token_id != tok.eos_token_id
    example = read_corpus(sample_path("train")).examples[0]
    for variant in ("baseline", "mtup"):
        builder = PromptBuilder(variant, tok)
        row = encode_example(tok, builder, example, 0)
        prompt_len = row["segment"].count(0)
        assert row["labels"][:prompt_len] == [IGNORE] * prompt_len
        assert row["labels"][prompt_len:] == row["input_ids"][prompt_len:]
        assert row["labels"][-1] == tok.eos_token_id
        assert tok.decode(row["input_ids"][:prompt_len], skip_special_tokens=True) == builder.prompt(example.sentence)
        if variant == "mtup":
            assert row["segment"].count(1) > 0 and row["segment"].count(2) > 0
            task2 = [t for t, s in zip(row["input_ids"], row["segment"]) if s == 2]
            assert tok.decode(task2, skip_special_tokens=True).startswith(TASK2)


def test_tiny_tokenizer_survives_save_and_reload(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    text = "Hắn trợn mắt lên quát : - Thế_thì thằng nào ăn đi ?\n(q / quát :agent (h / hắn))"
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    assert json.loads(open(f"{tiny_model}/visempar-tiny.json").read())["warmup_loss_last"] < \
        json.loads(open(f"{tiny_model}/visempar-tiny.json").read())["warmup_loss_first"]


def test_builder_order_is_fixed(tiny_model):
    from visempar.model.build import apply_lora, build_stack, enable_checkpointing, load_base
    from visempar.config import TrainConfig

    config = tiny_config(tiny_model)
    stack = build_stack(config)
    assert stack.steps == ["load", "lora", "checkpointing"]
    assert all(p.dtype == torch.float32 for p in stack.model.parameters() if p.requires_grad)
    assert not any("order" in name or "checkpoint_before" in name for name in TrainConfig.__dataclass_fields__)
    base = load_base(tiny_model, quantize=False, compute="float32")
    enable_checkpointing(base)
    with pytest.raises(RuntimeError, match="before LoRA"):
        apply_lora(base, config)


def test_trl_qlora_bf16_cast_is_undone(tiny_model, tmp_path):
    """TRL casts trainable tensors of quantised models to bf16; visempar keeps fp32 (A6)."""
    from visempar.train.health import HealthMonitor
    from visempar.train.run import prepare
    from visempar.train.trainer import make_trainer

    config = tiny_config(tiny_model)
    p = prepare(config, log=lambda *_: None)
    p.stack.model.base_model.model.is_loaded_in_4bit = True
    p.stack.model.is_loaded_in_4bit = True
    trainer = make_trainer(config, p.stack, p.train.rows[:8], [], p.schedule, tmp_path,
                           HealthMonitor(3, 0))
    trainer.close()
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.float32}


class _At(TrainerCallback):
    """Runs `action` once at the end of optimizer step `step`."""

    def __init__(self, step, action):
        self.step, self.action, self.done = step, action, False

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step and not self.done:
            self.done = True
            self.action()


def _adapter(run_dir):
    from safetensors.torch import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


def test_train_writes_a_complete_run(trained_run):
    for name in ("config.yaml", "run.json", "metrics.jsonl", "curve.png", "summary.json",
                 "adapter/adapter_config.json", "adapter/tokenizer.json"):
        assert (trained_run / name).exists(), name
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 6
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    lrs = [r["learning_rate"] for r in records if "learning_rate" in r]
    assert lrs[0] == 0.0 and all(lr > 0 for lr in lrs[1:])      # no non-zero LR shown as 0
    assert all("loss_graph" in r for r in records if "loss" in r)
    assert all(r["train_tokens_per_second"] > 0 for r in records if "loss" in r)   # the Trainer's pace
    seen = max(r["num_input_tokens_seen"] for r in records)        # the Trainer's own count
    assert summary["tokens_seen"] == seen and seen > 6 * 4 * 50   # ours, from the loss path
    marks = {p.name: json.loads((p / "visempar-complete.json").read_text())
             for p in (trained_run / "checkpoints").glob("checkpoint-*")}
    assert {name: (m["step"], m["health"]) for name, m in marks.items()} == {
        f"checkpoint-{s}": (s, summary["health"]) for s in (3, 6)}
    for name, mark in marks.items():  # the commit record vouches for every file, by size and hash
        folder = trained_run / "checkpoints" / name
        assert sorted(mark["files"]) == sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                                               if p.is_file() and p.name != "visempar-complete.json")
        assert mark["files"]["adapter_model.safetensors"]["size"] == (folder / "adapter_model.safetensors").stat().st_size
    assert all((trained_run / "checkpoints" / name / "tokenizer.json").exists() for name in marks)
    lexicon = json.loads((trained_run / "lexicon.json").read_text(encoding="utf-8"))
    words = lexicon["words"]
    assert len(words) > 20 and all(len(v) == 3 and 0 < v[1] <= v[0] for v in words.values())
    assert lexicon["commonest_type"] == "person" and lexicon["names"]  # the sample's typed names
    run = json.loads((trained_run / "run.json").read_text())
    assert run["schedule"]["total_steps"] == 6 and run["build_order"] == ["load", "lora", "checkpointing"]
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run["model_path"]),
                              str(trained_run / "adapter"))


def test_train_command_runs_preflight_trains_and_says_how_it_ended(tiny_model, tmp_path):
    """`visempar train` as a user runs it: the preflight table, then the run, one summary
    line on stdout, exit 0; the same command again refuses to overwrite the finished run."""
    from click.testing import CliRunner

    from visempar.cli import main

    out = tmp_path / "run"
    args = ["train", "--model", tiny_model, "--config", "tiny-baseline", "--max-steps", "4",
            "--set", "save_steps=2", "--set", "eval_steps=0", "--output-dir", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert "schedule: 4 optimizer steps" in result.stderr
    table, last = result.stdout.rstrip("\n").rsplit("\n", 1)
    assert all(check in table for check in ("train.backward", "train.movement", "eval.path"))
    line = (f"trained: baseline on {tiny_model}, step 4/4, loss {summary['first_loss']:.3f} -> "
            f"{summary['last_loss']:.3f}, {summary['train_seconds']:.0f} s, 0 skipped steps -> {out}")
    assert last == line
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and f"{out} already holds a run" in again.output
    assert json.loads((out / "summary.json").read_text()) == summary


@pytest.mark.parametrize("model, expected", [("Qwen/Qwen2.5-7B-Instruct", "Qwen2.5-7B-Instruct-mtup"),
                                             ("/models/llama/", "llama-mtup"), ("/", "model-mtup")])
def test_default_run_directory_is_named_after_model_and_variant(model, expected):
    from pathlib import Path

    from visempar.train.run import default_output_dir

    assert default_output_dir(tiny_config(model, variant="mtup")) == Path("runs") / expected


def test_curve_shows_every_logged_loss_and_the_lr_by_optimizer_step():
    from visempar.train.run import curve_figure

    records = [{"step": 1, "loss": 3.0, "learning_rate": 0.0}, {"step": 2, "eval_loss": 2.7},
               {"step": 2, "loss": 2.5, "learning_rate": 1e-3, "loss_task1": 2.0, "loss_task2": 3.0},
               {"step": 3, "loss": 2.0}]
    losses, lr = curve_figure(records).axes
    drawn = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in losses.lines}
    assert drawn == {"train loss": ([1, 2, 3], [3.0, 2.5, 2.0]), "loss task1": ([2], [2.0]),
                     "loss task2": ([2], [3.0]), "eval loss": ([2], [2.7])}
    assert [(list(line.get_xdata()), list(line.get_ydata())) for line in lr.lines] == [([1, 2], [0.0, 1e-3])]
    assert (lr.get_xlabel(), lr.get_ylabel(), losses.get_ylabel()) == ("optimizer step", "learning rate", "loss")
    assert curve_figure([{"step": 1, "eval_loss": 2.7}]) is None     # nothing trained yet: no curve


@pytest.mark.parametrize("status, best, load_best, kept", [
    ("completed", "ckpt/checkpoint-4", True, {"step": 4, "why": "best eval_loss", "value": 1.5, "last_value": 1.75}),
    ("completed", "ckpt/checkpoint-4", False, {"step": 8, "why": "last step"}),  # select_best: last
    ("completed", None, True, {"step": 8, "why": "last step"}),                # no evaluation ran
    ("interrupted", "ckpt/checkpoint-4", True, {"step": 8, "why": "last step"}),
    ("aborted", "ckpt/checkpoint-4", True, {"step": 8, "why": "last step"}),
])
def test_kept_adapter_says_which_step_was_saved_and_why(status, best, load_best, kept):
    from visempar.train.run import kept_adapter

    history = [{"eval_loss": 2.0, "step": 2}, {"eval_loss": 1.5, "step": 4}, {"loss": 1.2, "step": 6},
               {"eval_loss": 1.75, "step": 8}, {"loss": 1.1, "step": 8}]
    trainer = SimpleNamespace(
        state=SimpleNamespace(global_step=8, best_model_checkpoint=best, best_metric=1.5, log_history=history),
        args=SimpleNamespace(load_best_model_at_end=load_best, metric_for_best_model="eval_loss"))
    assert kept_adapter(trainer, status) == kept


def test_only_committed_checkpoints_count_in_step_order(tmp_path):
    from visempar.train.run import complete_checkpoints
    from visempar.train.checkpoints import COMPLETE

    for step in (9, 10, 100, 11):
        (tmp_path / "checkpoints" / f"checkpoint-{step}").mkdir(parents=True)
        if step != 11:                                        # 11: half-written, no marker
            (tmp_path / "checkpoints" / f"checkpoint-{step}" / COMPLETE).write_text("{}")
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-9", "checkpoint-10", "checkpoint-100"]


def test_ranks_come_from_the_launcher_and_only_several_ranks_wait_for_each_other(monkeypatch):
    import accelerate

    from visempar.train import run

    waits = []
    monkeypatch.setattr(accelerate, "PartialState", lambda: SimpleNamespace(wait_for_everyone=lambda: waits.append(1)))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    run.every_rank_has_looked()
    assert (run.world_size(), run.is_main_process(), waits) == (1, True, [])
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    run.every_rank_has_looked()
    assert (run.world_size(), run.is_main_process(), waits) == (2, False, [1])


def test_summary_line_says_how_each_kind_of_run_ended():
    from visempar.train.run import summary_line

    base = {"status": "completed", "variant": "mtup", "model": "m", "steps": 8, "total_steps": 8,
            "first_loss": 2.5, "last_loss": 0.125, "train_seconds": 61.6, "run_dir": "runs/x",
            "health": {"skipped_steps": 1}, "error": None, "kept": {"step": 8, "why": "last step"}}
    assert summary_line(base) == "trained: mtup on m, step 8/8, loss 2.500 -> 0.125, 62 s, 1 skipped steps -> runs/x"
    kept = summary_line(base | {"kept": {"step": 4, "why": "best eval_smatch", "value": 0.51234,
                                          "last_value": 0.4}})
    assert kept == (summary_line(base) + "\nkept the adapter of step 4 (best eval_smatch 0.5123; "
                    "last evaluation 0.4000)")
    stopped = summary_line(base | {"status": "interrupted", "steps": 3, "first_loss": None,
                                   "last_checkpoint": "checkpoint-2"})
    assert stopped.splitlines() == ["interrupted: mtup on m, step 3/8, no loss logged, 62 s, 1 skipped "
                                    "steps -> runs/x", "checkpoint checkpoint-2 saved; continue with --resume"]
    aborted = summary_line(base | {"status": "aborted", "error": "2 optimizer steps in a row had a NaN loss"})
    assert aborted.startswith("ABORTED: mtup") and aborted.splitlines()[1] == "2 optimizer steps in a row had a NaN loss"


def test_mtup_logs_both_task_losses_and_loss_decreases(tiny_model, tmp_path):
    from visempar.train.run import train

    summary = train(tiny_config(tiny_model, tmp_path / "m", variant="mtup", max_steps=12,
                                learning_rate=3e-3), log=lambda *_: None)
    records = [json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss" in r]
    assert all("loss_task1" in r and "loss_task2" in r for r in losses)
    first = sum(r["loss"] for r in losses[:3]) / 3
    last = sum(r["loss"] for r in losses[-3:]) / 3
    assert last < first, (first, last)
    assert summary["status"] == "completed"


def test_interrupt_then_resume_equals_uninterrupted(tiny_model, tmp_path):
    from visempar.train.run import complete_checkpoints, train

    quiet = lambda *_: None  # noqa: E731
    straight = train(tiny_config(tiny_model, tmp_path / "a", save_steps=100), log=quiet)
    assert straight["status"] == "completed"

    cut = tiny_config(tiny_model, tmp_path / "b", save_steps=100)
    # the signal lands after the monitor's end-of-step-2 hook, so step 3 is the last one
    stop = _At(2, lambda: os.kill(os.getpid(), signal.SIGINT))
    first = train(cut, callbacks=[stop], log=quiet)
    assert first["status"] == "interrupted" and exit_status(first) == 130 and first["steps"] == 3
    assert [c.name for c in complete_checkpoints(tmp_path / "b")] == ["checkpoint-3"]
    assert not (tmp_path / "b" / "adapter").exists()

    resumed = train(cut, resume=True, log=quiet)
    assert resumed["status"] == "completed" and resumed["resumed_from"] == "checkpoint-3"
    a, b = _adapter(tmp_path / "a"), _adapter(tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_a_torn_checkpoint_is_skipped_and_a_full_disk_loses_nothing_committed(tiny_model, tmp_path, monkeypatch):
    """A checkpoint whose files no longer match its commit record is skipped on resume
    (named in one line) for the newest one that verifies; a save that fails with ENOSPC
    is one `CheckpointError` naming the folder, the committed checkpoints stay, and the
    resumed run ends with the adapter of an uninterrupted one."""
    import errno

    import transformers

    from visempar.train.checkpoints import CheckpointError, committed, problem
    from visempar.train.run import train

    quiet = lambda *_: None  # noqa: E731
    straight = train(tiny_config(tiny_model, tmp_path / "a", save_steps=2), log=quiet)
    assert straight["status"] == "completed"

    save = transformers.Trainer._save_checkpoint

    def disk_full_at_step_4(self, model, trial):
        if self.state.global_step == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, model, trial)

    monkeypatch.setattr(transformers.Trainer, "_save_checkpoint", disk_full_at_step_4)
    config = tiny_config(tiny_model, tmp_path / "b", save_steps=2)
    with pytest.raises(CheckpointError, match=r"checkpoint-4: the checkpoint could not be written "
                                              r"\(No space left on device\)"):
        train(config, log=quiet)
    monkeypatch.setattr(transformers.Trainer, "_save_checkpoint", save)
    checkpoints = tmp_path / "b" / "checkpoints"
    assert [c.name for c in committed(checkpoints)] == ["checkpoint-2"] and problem(checkpoints / "checkpoint-2") is None

    # a torn newer checkpoint: committed, then its adapter cut short
    said = []
    train(config, resume=True, callbacks=[_At(3, lambda: os.kill(os.getpid(), signal.SIGINT))], log=quiet)
    assert [c.name for c in committed(checkpoints)] == ["checkpoint-2", "checkpoint-4"]
    weights = checkpoints / "checkpoint-4" / "adapter_model.safetensors"
    size = weights.stat().st_size
    with open(weights, "r+b") as fh:
        fh.truncate(size // 2)
    resumed = train(config, resume=True, log=said.append)
    assert f"--resume: skipping checkpoint-4: adapter_model.safetensors has {size // 2} bytes, {size} were committed" in said
    assert resumed["status"] == "completed" and resumed["resumed_from"] == "checkpoint-2"
    a, b = _adapter(tmp_path / "a"), _adapter(tmp_path / "b")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    # steps 3 and 4 were trained twice: their records are not, and the token count is the straight run's
    records = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "loss" in r]
    assert steps == sorted(set(steps)) == [r["step"] for r in
                                           map(json.loads, (tmp_path / "a" / "metrics.jsonl").read_text().splitlines())
                                           if "loss" in r]
    assert resumed["tokens_seen"] == straight["tokens_seen"] > 0


def test_a_second_signal_stops_at_once_and_the_handlers_are_put_back(tiny_model, tmp_path):
    from visempar.train.run import complete_checkpoints, train

    ambient = signal.signal(signal.SIGINT, signal.default_int_handler)  # a test runner may have its own
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        said = []
        twice = _At(2, lambda: [os.kill(os.getpid(), signal.SIGINT) for _ in range(2)])
        with pytest.raises(KeyboardInterrupt):  # Python's own SIGINT handler, called again
            train(tiny_config(tiny_model, tmp_path / "k", save_steps=100), callbacks=[twice], log=said.append)
        assert {s: signal.getsignal(s) for s in before} == before
    finally:
        signal.signal(signal.SIGINT, ambient)
    assert [m for m in said if "SIGINT" in m] == [
        "\nSIGINT: saving a checkpoint at the end of this step, then stopping (send it again to stop at once)"]
    assert complete_checkpoints(tmp_path / "k") == []          # stopped without saving


def test_sigterm_saves_and_stops(tiny_model, tmp_path):
    from visempar.train.run import train

    out = tmp_path / "t"
    summary = train(tiny_config(tiny_model, out, save_steps=100),
                    callbacks=[_At(3, lambda: os.kill(os.getpid(), signal.SIGTERM))], log=lambda *_: None)
    assert exit_status(summary) == 143 and summary["last_checkpoint"] == "checkpoint-4"
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


def test_resume_under_a_changed_config_is_refused(tiny_model, tmp_path):
    from visempar.train.run import RunError, train

    out = tmp_path / "r"
    said = []
    train(tiny_config(tiny_model, out, max_steps=3), resume=True, log=said.append)
    assert said[0] == f"--resume: {out} holds no run yet (no config.yaml): starting from step 0"
    with pytest.raises(RunError) as err:
        train(tiny_config(tiny_model, out, max_steps=5, learning_rate=1e-3), resume=True)
    assert str(err.value) == ("--resume: the config differs from the one this run was started with:\n"
                              "  learning_rate: 0.002 -> 0.001\n  max_steps: 3 -> 5\n"
                              "resume with the original settings, or pass --force")
    with pytest.raises(RunError) as err:
        train(tiny_config(tiny_model, out, max_steps=3))
    assert str(err.value) == f"{out} already holds a run; --resume it, choose another --output-dir, or pass --overwrite"
    said = []
    done = train(tiny_config(tiny_model, out, max_steps=3), resume=True, log=said.append)
    assert done["already_complete"] and exit_status(done) == 0 and done["steps"] == 3
    assert said == [f"--resume: {out} is complete (3 steps, adapter in {out / 'adapter'}); nothing to resume"]
    said = []
    forced = train(tiny_config(tiny_model, out, max_steps=4, learning_rate=1e-3), resume=True, force=True,
                   log=said.append)
    assert forced["status"] == "completed" and forced["resumed_from"] == "checkpoint-3" and forced["steps"] == 4
    assert f"resuming {out} from checkpoint-3" in said
    assert (out / "checkpoints" / "checkpoint-4").exists()
    anew = train(tiny_config(tiny_model, out, max_steps=3), overwrite=True, log=lambda *_: None)
    assert anew["status"] == "completed" and anew["resumed_from"] is None
    assert not (out / "checkpoints" / "checkpoint-4").exists()        # the old run is gone


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_again_from_step_0(tiny_model, tmp_path):
    import shutil

    from visempar.train.run import train

    out = tmp_path / "k"
    whole = train(tiny_config(tiny_model, out, max_steps=3), log=lambda *_: None)
    for gone in ("checkpoints", "adapter", "summary.json"):  # as a kill -9 after config.yaml leaves it
        shutil.rmtree(out / gone) if (out / gone).is_dir() else (out / gone).unlink()
    said = []
    again = train(tiny_config(tiny_model, out, max_steps=3), resume=True, log=said.append)
    assert f"--resume: no complete checkpoint under {out / 'checkpoints'}: starting again from step 0" in said
    assert again["status"] == "completed" and again["resumed_from"] is None and again["steps"] == 3
    assert again["last_loss"] == whole["last_loss"]


def _nan_embedding(model, calls):
    """Make the forward pass produce NaN on the given (1-based) training forward calls."""
    count = {"n": 0}

    def hook(module, args, output):
        if module.training:
            count["n"] += 1
            if count["n"] in calls:
                return output * float("nan")
        return output

    return model.get_input_embeddings().register_forward_hook(hook)


def test_nan_step_is_skipped_counted_and_not_applied(tiny_model, tmp_path):
    from visempar.train.run import prepare, train

    config = tiny_config(tiny_model, tmp_path / "n", max_steps=5)
    prepared = prepare(config, log=lambda *_: None)
    handle = _nan_embedding(prepared.stack.model, calls={3})
    messages = []
    summary = train(config, prepared=prepared, log=messages.append)
    handle.remove()
    assert summary["status"] == "completed"
    assert summary["health"]["skipped_steps"] == 1
    bad = summary["health"]["bad_batches"][0]
    assert bad["step"] == 3 and bad["loss"] == "nan" and len(bad["examples"]) == 4
    assert any("step 3: non-finite loss" in m for m in messages)
    records = [json.loads(x) for x in (tmp_path / "n" / "metrics.jsonl").read_text().splitlines()]
    step3 = next(r for r in records if r["step"] == 3 and "loss" in r)
    assert math.isnan(step3["loss"])                              # shown, never clamped to 0
    assert step3["nonfinite_losses"] == 1
    assert [r["skipped_steps"] for r in records if "loss" in r] == [0, 0, 1, 1, 1]
    assert all("nonfinite_losses" not in r for r in records if r["step"] != 3)
    assert all(math.isfinite(r["loss"]) for r in records if "loss" in r and r["step"] != 3)


def test_every_nan_of_a_logging_window_is_counted(tiny_model, tmp_path):
    from visempar.train.run import prepare, train

    config = tiny_config(tiny_model, tmp_path / "w", max_steps=4, logging_steps=4)
    prepared = prepare(config, log=lambda *_: None)
    handle = _nan_embedding(prepared.stack.model, calls={2, 3})
    summary = train(config, prepared=prepared, log=lambda *_: None)
    handle.remove()
    assert summary["status"] == "completed" and summary["health"]["skipped_steps"] == 2
    records = [json.loads(x) for x in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    first, window = [r for r in records if "loss" in r]                   # step 1, then steps 2-4
    assert (first["step"], first["skipped_steps"], "nonfinite_losses" in first) == (1, 0, False)
    assert (window["step"], window["nonfinite_losses"], window["skipped_steps"]) == (4, 2, 2)


def test_consecutive_nan_steps_abort_with_the_cause(tiny_model, tmp_path):
    from visempar.train.run import prepare, train

    config = tiny_config(tiny_model, tmp_path / "x", max_steps=6, max_bad_steps=2)
    prepared = prepare(config, log=lambda *_: None)
    handle = _nan_embedding(prepared.stack.model, calls=set(range(2, 100)))
    summary = train(config, prepared=prepared, log=lambda *_: None)
    handle.remove()
    assert summary["status"] == "aborted" and exit_status(summary) == 1
    assert "2 optimizer steps in a row had a non-finite loss" in summary["error"]
    assert summary["steps"] == 2


def test_stalled_tensors_are_reported(tiny_model, tmp_path):
    from visempar.train.run import prepare, train

    config = tiny_config(tiny_model, tmp_path / "s", max_steps=4, stall_check_steps=2)
    prepared = prepare(config, log=lambda *_: None)
    frozen = next(n for n, p in prepared.stack.model.named_parameters() if "lora_B" in n)
    param = dict(prepared.stack.model.named_parameters())[frozen]
    param.register_hook(lambda g: torch.zeros_like(g))
    summary = train(config, prepared=prepared, log=lambda *_: None)
    assert frozen in summary["health"]["stalled_tensors"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_ddp_on_cpu(tiny_model, tmp_path):
    """Two ranks on gloo; rank 1 starts 6 s late, after rank 0 has written the run's
    config.yaml in an unguarded start, and must still take it for its own run."""
    out = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    env["OMP_NUM_THREADS"] = "1"
    late = tmp_path / "late_rank1.py"
    late.write_text("import os, sys, time\nif os.environ.get('RANK') == '1':\n    time.sleep(6)\n"
                    "from visempar.cli import main\nsys.exit(main())\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_port", str(free_port()), str(late), "train", "--model", tiny_model,
           "--config", "tiny-baseline", "--output-dir", str(out), "--max-steps", "3",
           "--batch-size", "4", "--set", "logging_steps=1", "--set", "lora_r=4",
           "--set", "eval_steps=0", "--skip-preflight"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "step 3/3 | loss" in done.stdout and "it/s" not in done.stdout + done.stderr
    rank0 = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rank1 = [json.loads(x) for x in (out / "metrics.rank1.jsonl").read_text().splitlines()]
    loss0 = [r["loss"] for r in rank0 if "loss" in r]
    assert loss0 == [r["loss"] for r in rank1 if "loss" in r] and len(loss0) == 3
    assert json.loads((out / "run.json").read_text())["world_size"] == 2
    assert (out / "adapter" / "adapter_model.safetensors").exists()
    assert list(out.glob("**/adapter_model.safetensors")) != []


def test_best_adapter_is_kept_by_eval_loss(tiny_model, tmp_path):
    """A high LR makes eval loss rise late; the saved adapter is the best evaluated one."""
    from safetensors.torch import load_file

    from visempar.train.run import train

    out = tmp_path / "best"
    summary = train(tiny_config(tiny_model, out, max_steps=8, eval_steps=2, save_steps=2,
                                save_total_limit=1, learning_rate=2e-2, warmup=0),
                    log=lambda *_: None)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = {r["step"]: r["eval_loss"] for r in records if "eval_loss" in r}
    best_step = min(evals, key=evals.get)
    kept = summary["kept"]
    assert kept["step"] == best_step and kept["why"] == "best eval_loss"
    assert kept["value"] == pytest.approx(evals[best_step])
    assert kept["last_value"] == pytest.approx(evals[max(evals)])
    saved = _adapter(out)
    best = load_file(str(out / "checkpoints" / f"checkpoint-{best_step}" / "adapter_model.safetensors"))
    assert all(torch.equal(saved[k], best[k]) for k in best)


def test_best_adapter_by_dev_smatch(tiny_model, tmp_path):
    from visempar.train.run import train

    out = tmp_path / "smatch"
    summary = train(tiny_config(tiny_model, out, max_steps=4, eval_steps=2, save_steps=2,
                                select_best="smatch", dev_smatch_examples=2, max_new_tokens=24),
                    log=lambda *_: None)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    scores = {r["step"]: r["eval_smatch"] for r in records if "eval_smatch" in r}
    assert sorted(scores) == [2, 4] and all(0.0 <= v <= 1.0 for v in scores.values())
    assert summary["kept"]["why"] == "best eval_smatch"
    assert summary["kept"]["value"] == pytest.approx(max(scores.values()))


def test_selection_needs_checkpoints_at_evaluations():
    with pytest.raises(ConfigError, match=r"save_steps \(3\) must be a multiple of eval_steps \(2\)"):
        load_config(None, {"eval_steps": 2, "save_steps": 3})
    assert load_config(None, {"eval_steps": 2, "save_steps": 3, "select_best": "last"}).save_steps == 3


def test_logits_loss_head_equals_trl_fused_head(tiny_model, tmp_path):
    """visempar's CPU loss path computes TRL's loss: same value, same gradients."""
    from visempar.train.health import HealthMonitor
    from visempar.train.run import prepare
    from visempar.train.trainer import loss_head, make_trainer

    config = tiny_config(tiny_model, eval_steps=0)
    prepared = prepare(config, log=lambda *_: None)
    trainer = make_trainer(config, prepared.stack, prepared.train.rows[:8], [], prepared.schedule,
                           tmp_path, HealthMonitor(3, 0, log=lambda *_: None))
    assert trainer.loss_head == loss_head("auto") == ("fused" if torch.cuda.is_available() else "logits")
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model
    results, from_logits = {}, []
    own = trainer._loss_from_logits
    trainer._loss_from_logits = lambda *a, **k: from_logits.append(trainer.loss_head) or own(*a, **k)
    for head in ("fused", "logits"):
        trainer.loss_head = head
        model.zero_grad()
        loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=None)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[head] = (float(loss.detach()), grads, trainer.monitor.segment_losses("baseline"))
    trainer.close()
    assert from_logits == ["logits"]                                  # each head took its own path
    assert results["logits"][0] == pytest.approx(results["fused"][0], rel=1e-5)
    assert results["logits"][2]["loss_graph"] == pytest.approx(results["fused"][2]["loss_graph"], rel=1e-5)
    for name, grad in results["fused"][1].items():
        torch.testing.assert_close(results["logits"][1][name], grad, rtol=1e-4, atol=1e-6)


def test_cpu_threads_setting(monkeypatch):
    from visempar.model.device import available_cores, set_threads

    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert set_threads(0) == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert set_threads(0) == available_cores()
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="cpu_threads"):
        load_config(None, {"cpu_threads": -1})
