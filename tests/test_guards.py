"""Tests that fail when a silent-failure guard breaks (failure modes A4, A5, C2, stalls).

Each test reads what the trainer really did (the LR each optimizer step used, the printed
line, the arguments handed to TRL, the per-task losses), not only what was planned.
"""

import json
import re
from types import SimpleNamespace

import pytest
import torch
from transformers import TrainerCallback

from tests.conftest import tiny_config

quiet = lambda *_: None  # noqa: E731


class LearningRates(TrainerCallback):
    """The LR of every optimizer step, read off the optimizer as the step is taken."""

    def __init__(self):
        self.used = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.used.append(optimizer.param_groups[0]["lr"])


def test_a4_a5_trainer_runs_the_planned_schedule_under_accumulation(tiny_model, tmp_path, capsys):
    from visempar.train.run import prepare, train
    from visempar.train.schedule import lr_curve

    config = tiny_config(tiny_model, tmp_path / "acc", max_steps=-1, num_train_epochs=1,
                         gradient_accumulation_steps=3, per_device_train_batch_size=4,
                         warmup=0.3, learning_rate=2e-3, logging_steps=1, save_steps=100)
    prepared = prepare(config, log=quiet)
    plan = prepared.schedule
    assert plan.micro_batches_per_epoch == 40 and plan.total_steps == 14 and plan.warmup_steps == 5
    used = LearningRates()
    summary = train(config, prepared=prepared, callbacks=[used], log=quiet)
    assert summary["steps"] == plan.total_steps
    expected = lr_curve(config, plan.total_steps, plan.warmup_steps)
    assert used.used == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert max(used.used) == pytest.approx(2e-3)                     # the peak is reached
    records = [json.loads(line) for line in (tmp_path / "acc" / "metrics.jsonl").read_text().splitlines()]
    logged = {r["step"]: r["learning_rate"] for r in records if "learning_rate" in r}
    for step, lr in logged.items():                                  # full precision in the log
        assert lr == pytest.approx(expected[step - 1], rel=1e-9, abs=1e-15)
    out = capsys.readouterr().out
    printed = dict(re.findall(r"step (\d+)/14 \|.*?\| lr (\S+)", out))
    assert len(printed) >= 10
    for step, text in printed.items():                              # the printed line, 4 digits
        assert text == f"{expected[int(step) - 1]:.4e}", (step, text)
    paces = re.findall(r"step (\d+)/14 \|.*?\| ([\d.]+) s/step, ([\d,]+) tok/s, ETA (\d+:\d\d:\d\d)", out)
    assert len(paces) >= 10 and paces[-1][0] == "14" and paces[-1][3] == "0:00:00"
    assert all(float(p[1]) > 0 and int(p[2].replace(",", "")) > 0 for p in paces)


def test_trainer_arguments_match_the_config(tiny_model, tmp_path):
    from visempar.model.device import compute_dtype
    from visempar.train.schedule import plan
    from visempar.train.trainer import sft_config

    config = tiny_config(tiny_model, tmp_path / "args", learning_rate=7e-4, max_grad_norm=0.3,
                         weight_decay=0.01, lr_scheduler="linear", warmup=0.25, max_steps=20,
                         gradient_accumulation_steps=2, per_device_train_batch_size=3,
                         per_device_eval_batch_size=5, logging_steps=2, save_steps=4,
                         save_total_limit=3, eval_steps=4, seed=11, select_best="smatch")
    schedule = plan(config, 160)
    args = sft_config(config, schedule, tmp_path / "ckpt", "float32")
    assert schedule.warmup_steps == 5 and schedule.total_steps == 20
    handed = {"learning_rate": 7e-4, "max_grad_norm": 0.3, "weight_decay": 0.01, "seed": 11,
              "max_steps": 20, "warmup_steps": 5, "gradient_accumulation_steps": 2,
              "per_device_train_batch_size": 3, "per_device_eval_batch_size": 5,
              "logging_steps": 2, "save_steps": 4, "save_total_limit": 3, "eval_steps": 4,
              "load_best_model_at_end": True, "metric_for_best_model": "eval_smatch",
              "greater_is_better": True, "logging_nan_inf_filter": False,
              "bf16": compute_dtype("float32") == "bfloat16", "fp16": False,
              "activation_checkpointing": False, "data_seed": 11}
    handed |= {"output_dir": str(tmp_path / "ckpt"), "logging_first_step": True,
               "include_num_input_tokens_seen": "non_padding", "save_strategy": "steps",
               "eval_strategy": "steps", "use_cpu": not torch.cuda.is_available(), "max_length": None,
               "dataset_kwargs": {"skip_prepare_dataset": True}, "remove_unused_columns": False,
               "report_to": [], "ddp_find_unused_parameters": False, "dataloader_num_workers": 0,
               "train_sampling_strategy": "random", "prediction_loss_only": True}
    for key, value in handed.items():
        got = getattr(args, key)
        assert (got.value if hasattr(got, "value") else got) == value, key
    assert args.lr_scheduler_type.value == "linear" and args.optim.value == "adamw_torch"


@pytest.mark.parametrize("select_best, eval_steps, keeps_best, metric, greater", [
    ("eval_loss", 4, True, "eval_loss", False),
    ("last", 4, False, "eval_loss", False),
    ("smatch", 0, False, "eval_smatch", True),
])
def test_trainer_arguments_for_selection_evaluation_and_grouping(tmp_path, select_best, eval_steps,
                                                                 keeps_best, metric, greater):
    from visempar.train.schedule import plan
    from visempar.train.trainer import selects_best, sft_config

    config = tiny_config("tiny", tmp_path, select_best=select_best, eval_steps=eval_steps,
                         save_steps=4, group_by_length=True, max_steps=8)
    args = sft_config(config, plan(config, 40), tmp_path / "ckpt", "float32")
    assert selects_best(config) is keeps_best and args.load_best_model_at_end is keeps_best
    assert (args.metric_for_best_model, args.greater_is_better) == (metric, greater)
    assert args.eval_strategy.value == ("steps" if eval_steps else "no")
    assert args.eval_steps == (eval_steps or None)
    assert args.train_sampling_strategy == "group_by_length"


def test_c2_per_task_losses_equal_a_hand_computation(tiny_model, tmp_path):
    import torch.nn.functional as F

    from visempar.data.encode import Collator
    from visempar.train.health import HealthMonitor
    from visempar.train.run import prepare
    from visempar.train.trainer import make_trainer

    config = tiny_config(tiny_model, tmp_path / "c2", variant="mtup")
    p = prepare(config, log=quiet)
    monitor = HealthMonitor(3, 0)
    trainer = make_trainer(config, p.stack, p.train.rows[:8], [], p.schedule, tmp_path / "c", monitor)
    # the stack's tokenizer (its pad token may be set by build_stack, D7), not one TRL would
    # load again from the model path: checkpoints save this one
    assert trainer.processing_class is p.stack.tokenizer
    batch = Collator(p.stack.tokenizer.pad_token_id)(p.train.rows[:3])
    model = trainer.model
    model.train()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    nll = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), batch["labels"][:, 1:],
                          ignore_index=-100, reduction="none")
    seg = batch["segment"][:, 1:]
    by_hand = {f"loss_task{s}": float(nll[seg == s].mean()) for s in (1, 2)}
    with torch.no_grad():
        trainer.compute_loss(model, dict(batch))
    logged = monitor.segment_losses("mtup")
    trainer.close()
    assert logged == pytest.approx(by_hand, rel=1e-5)
    assert abs(logged["loss_task1"] - logged["loss_task2"]) > 1e-3   # two different figures


def test_stall_check_reports_the_frozen_tensor_and_nothing_else(tiny_model, tmp_path):
    from visempar.train.run import prepare, train

    healthy = train(tiny_config(tiny_model, tmp_path / "h", max_steps=4, stall_check_steps=2), log=quiet)
    assert healthy["health"]["stalled_tensors"] == {}

    config = tiny_config(tiny_model, tmp_path / "s", max_steps=4, stall_check_steps=2)
    prepared = prepare(config, log=quiet)
    params = dict(prepared.stack.model.named_parameters())
    frozen = next(n for n in params if "lora_B" in n)
    params[frozen].register_hook(lambda g: torch.zeros_like(g))
    summary = train(config, prepared=prepared, log=quiet)
    # B held at zero also keeps its A's gradient at zero: that pair, and nothing else
    assert set(summary["health"]["stalled_tensors"]) == {frozen, frozen.replace("lora_B", "lora_A")}


# -- the monitor's decisions, one optimizer step at a time (fast; found by mutation testing) --

class _Step:
    def __init__(self, global_step):
        self.global_step = global_step


def _linear_with_grads(value):
    import torch

    model = torch.nn.Linear(3, 2)
    for p in model.parameters():
        p.grad = torch.full_like(p, value)
    return model


def test_a_finite_loss_with_a_non_finite_gradient_skips_the_step():
    from visempar.train.health import HealthMonitor, TrainingHealthError

    lines = []
    monitor = HealthMonitor(max_bad_steps=3, stall_check_steps=0, log=lines.append)
    healthy = _linear_with_grads(0.5)
    monitor.on_pre_optimizer_step(None, _Step(0), None, model=healthy)
    assert monitor.state.skipped_steps == 0 and all(p.grad is not None for p in healthy.parameters())
    broken = _linear_with_grads(float("nan"))
    monitor.on_pre_optimizer_step(None, _Step(1), None, model=broken)
    assert monitor.state.skipped_steps == 1 and monitor.state.consecutive_bad == 1
    assert all(p.grad is None for p in broken.parameters())          # dropped, never zeroed
    assert monitor.state.bad_batches == [{"step": 2, "grad_norm": "nan", "examples": []}]
    assert lines == ["step 2: non-finite loss or gradient norm; step skipped (examples unknown; "
                     "1 in a row, 1 in total)"]
    monitor.observe(torch.tensor(float("nan")), None, None, torch.tensor([5, 3]), step=2)
    monitor.on_pre_optimizer_step(None, _Step(2), None, model=_linear_with_grads(0.5))
    assert monitor.state.skipped_steps == 2 and "(examples [3, 5]; 2 in a row, 2 in total)" in lines[-1]
    with pytest.raises(TrainingHealthError, match=r"3 optimizer steps in a row .* \(last at step 4, examples \[\]\)"):
        monitor.on_pre_optimizer_step(None, _Step(3), None, model=_linear_with_grads(float("inf")))
    assert monitor.state.skipped_steps == 3
    monitor.on_pre_optimizer_step(None, _Step(4), None, model=healthy)
    assert monitor.state.consecutive_bad == 0                          # a good step resets the run


def test_stall_check_names_the_tensor_and_its_step_and_ignores_skipped_windows():
    from visempar.train.health import HealthMonitor

    lines = []
    monitor = HealthMonitor(max_bad_steps=5, stall_check_steps=1, log=lines.append)
    model = _linear_with_grads(0.0)
    monitor.on_step_end(None, _Step(1), SimpleNamespace(), model=model)   # first snapshot
    with torch.no_grad():
        model.bias.add_(1.0)                                                # the weight stays put
    monitor.on_step_end(None, _Step(2), SimpleNamespace(), model=model)
    assert monitor.state.stalled == {"weight": 2}
    assert lines == ["step 2: 1 trainable tensors did not change over the last 1 steps (e.g. weight); "
                     "check their dtype and the LR"]
    for skipped, reported in ((2, {}), (1, {"weight": 4, "bias": 4})):
        watch = HealthMonitor(max_bad_steps=5, stall_check_steps=2, log=lines.append)
        watch.on_step_end(None, _Step(2), SimpleNamespace(), model=model)
        for step in range(skipped):                       # steps of the window that were skipped
            watch.on_pre_optimizer_step(None, _Step(2 + step), None, model=_linear_with_grads(float("nan")))
        watch.on_step_end(None, _Step(4), SimpleNamespace(), model=model)
        assert watch.state.stalled == reported            # all skipped: not moving is no stall


def test_health_record_keeps_the_last_50_bad_batches():
    from visempar.train.health import HealthState

    state = HealthState(skipped_steps=60, bad_batches=[{"step": i} for i in range(60)], stalled={"w": 3})
    assert state.to_dict() == {"skipped_steps": 60, "bad_batches": [{"step": i} for i in range(10, 60)],
                               "stalled_tensors": {"w": 3}}


def test_schedule_line_names_every_planned_lr():
    from visempar.train.schedule import Schedule

    line = Schedule(40, 40, 14, 14, 5, {"step 1": 0.0, "peak": 2e-3, "last step": 1.5e-4}).describe()
    assert line.endswith("LR step 1 0, peak 0.002, last step 0.00015"), line


def test_per_task_losses_accumulate_within_a_window_and_restart_after_it():
    """The monitor's own sums, by hand: task 1 and task 2 tokens of two micro-batches make
    one window's means; the next window starts from zero; the baseline logs one figure."""
    from visempar.train.health import HealthMonitor

    monitor = HealthMonitor(max_bad_steps=3, stall_check_steps=0)
    segment = torch.tensor([[0, 1, 1, 2, 2]])                     # shifted by one inside observe
    mask = torch.tensor([[True, True, True, True]])
    for nll in ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]):        # two micro-batches, one window
        out = SimpleNamespace(log_probs=-torch.tensor([nll]), label_mask=mask)
        monitor.observe(torch.tensor(1.0), out, segment, torch.tensor([0]), step=0)
    assert monitor.segment_losses("mtup") == {"loss_task1": (1 + 2 + 5 + 6) / 4, "loss_task2": (3 + 4 + 7 + 8) / 4}
    out = SimpleNamespace(log_probs=-torch.tensor([[1.0, 1.0, 2.0, 2.0]]), label_mask=mask)
    monitor.observe(torch.tensor(1.0), out, segment, torch.tensor([0]), step=1)
    assert monitor.segment_losses("mtup") == {"loss_task1": 1.0, "loss_task2": 2.0}   # from zero again
    monitor.observe(torch.tensor(1.0), out, segment, torch.tensor([0]), step=2)
    assert monitor.segment_losses("baseline") == {"loss_graph": 2.0}  # task 1's sums are not reported
    assert monitor.segment_losses("mtup") == {}                       # nothing since: nothing logged
    for missing in (SimpleNamespace(), SimpleNamespace(log_probs=None, label_mask=mask)):
        monitor.observe(torch.tensor(1.0), missing, segment, None, step=2)   # the fused head: no figures
    monitor.observe(torch.tensor(1.0), out, None, None, step=2)
    assert monitor.segment_losses("mtup") == {}
    monitor.observe(torch.tensor(float("nan")), out, segment, None, step=3)
    assert monitor._window_bad == [{"step": 4, "loss": "nan", "examples": []}]


class _Bar:
    def __init__(self):
        self.lines = []

    def write(self, line):
        self.lines.append(line)


def test_progress_line_shows_every_figure_and_the_pace_since_the_last_line(monkeypatch):
    """A5: the LR in 4 significant digits, never `0.00`; the pace excludes evaluation time."""
    from visempar.train import trainer as trainer_module

    now = [100.0]
    monkeypatch.setattr(trainer_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    progress = trainer_module.ReadableProgress()
    progress.training_bar = bar = _Bar()
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=1200,
                            num_input_tokens_seen=0)
    progress._set_mark(state)
    state.global_step, state.num_input_tokens_seen = 10, 6000
    now[0] = 130.0
    progress.on_log(None, state, None, logs={
        "loss": 1.23456, "loss_task1": 2.5, "loss_task2": 0.75, "loss_graph": 1.0, "grad_norm": 0.123456,
        "learning_rate": 2.5e-5, "skipped_steps": 0, "eval_loss": None})
    assert bar.lines == ["step 10/1200 | loss 1.2346 | task1 2.5000 | task2 0.7500 | graph 1.0000 | "
                         "grad 0.123 | lr 2.5000e-05 | skipped 0 | 3.00 s/step, 200 tok/s, ETA 0:59:30"]
    state.global_step = 12
    progress.on_log(None, state, None, logs={"eval_loss": 0.5, "eval_smatch": 0.61234})  # no pace
    assert bar.lines[-1] == "step 12/1200 | eval loss 0.5000 | dev smatch 0.6123"
    now[0] = 190.0
    progress.on_evaluate(SimpleNamespace(), state, None)                # a new mark
    state.global_step, state.num_input_tokens_seen = 14, 10_000
    now[0] = 200.0
    progress.on_log(None, state, None, logs={"loss": 1.0})
    assert bar.lines[-1].endswith("| 5.00 s/step, 400 tok/s, ETA 1:38:50")
    progress.on_log(None, state, None, logs={"loss": float("nan"), "loss_task1": float("nan")})
    assert bar.lines[-1] == "step 14/1200 | loss nan | task1 nan"      # no pace: no step since the mark
    progress.on_log(None, state, None, logs={"eval_loss": 0.25})      # one figure is a line too
    assert bar.lines[-1] == "step 14/1200 | eval loss 0.2500"
    progress.on_log(None, state, None, logs={"total_flos": 1.0})        # nothing to show
    state.is_world_process_zero = False
    progress.on_log(None, state, None, logs={"loss": 1.0})              # only rank 0 prints
    assert len(bar.lines) == 5


def test_metrics_file_keeps_every_record_in_full_precision(tmp_path):
    from visempar.train.trainer import MetricsWriter

    writer = MetricsWriter(tmp_path / "new" / "run" / "metrics.jsonl")
    state = SimpleNamespace(global_step=3, epoch=0.25)
    writer.on_log(None, state, None, logs={"loss": 1.5, "learning_rate": 1.234567891e-7})
    writer.on_log(None, state, None, logs={})
    state.global_step = 4
    writer.on_log(None, state, None, logs={"eval_loss": 0.5})
    records = [json.loads(line) for line in (tmp_path / "new" / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records == [{"step": 3, "epoch": 0.25, "loss": 1.5, "learning_rate": 1.234567891e-7},
                       {"step": 4, "epoch": 0.25, "eval_loss": 0.5}]


def test_loss_head_auto_is_the_full_logits_on_cpu_and_explicit_settings_stand():
    from visempar.train.trainer import loss_head

    assert loss_head("auto") == ("fused" if torch.cuda.is_available() else "logits")
    assert loss_head("fused") == "fused" and loss_head("logits") == "logits"


class Gradients(TrainerCallback):
    """The trainable tensors' gradients at the first optimizer step."""

    def __init__(self):
        self.grads = None

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.grads is None:
            self.grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()
                          if p.requires_grad and p.grad is not None}


def test_accumulated_micro_batches_give_the_gradient_of_the_whole_batch(tiny_model, tmp_path):
    """Two micro-batches of 2 must step like one batch of 4: the loss of an accumulated step is
    normalised by the supervised tokens of all its micro-batches, not averaged per micro-batch
    (which weighs a short example's tokens up to the length ratio more)."""
    from visempar.train.run import train

    grads = {}
    for batch, accumulation in ((4, 1), (2, 2)):
        seen = Gradients()
        config = tiny_config(tiny_model, tmp_path / f"b{batch}", max_steps=1, per_device_train_batch_size=batch,
                             gradient_accumulation_steps=accumulation, max_grad_norm=1e9, save_steps=100)
        assert train(config, callbacks=[seen], log=quiet)["status"] == "completed"
        grads[batch] = seen.grads
    assert grads[4].keys() == grads[2].keys() and len(grads[4]) > 0
    assert any(float(g.abs().max()) > 0 for g in grads[4].values())
    for name, whole in grads[4].items():
        torch.testing.assert_close(grads[2][name], whole, rtol=1e-4, atol=1e-7, msg=name)
