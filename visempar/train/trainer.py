"""TRL's `SFTTrainer` with visempar's monitor, logs and committed checkpoints.

The subclass keeps TRL's loss; on CPU it computes it from the full logits rather than
TRL's fused LM head (`loss_head`), which is slower there. It reads per-task losses off the
same forward, drops the gradients of unhealthy steps (`HealthMonitor`), keeps adapters in
the configured dtype (TRL casts QLoRA adapters to bf16), and marks a checkpoint complete
only after everything in it was written, so a crash mid-save never leaves a checkpoint
that `--resume` would trust.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback
from trl import SFTConfig, SFTTrainer

from visempar.data.encode import Collator
from visempar.model.build import Stack, set_adapter_dtype
from visempar.model.device import UNOBSERVED, ComputeDtypeProbe, dtype_names
from visempar.config import TrainConfig, trackers
from visempar.train.checkpoints import CheckpointError, commit, rotate
from visempar.train.health import HealthMonitor, TrainingHealthError
from visempar.train.schedule import Schedule

class VisemparTrainer(SFTTrainer):
    def __init__(self, *, monitor: HealthMonitor, variant: str, adapter_dtype: str,
                 compute_dtype: str, loss_head: str, dev_score=None, **kwargs):
        super().__init__(**kwargs)
        self.loss_head = loss_head
        self.dev_score = dev_score
        self.monitor = monitor
        self.variant = variant
        self.compute_dtype = compute_dtype
        self.observed_compute_dtype: set[str] = set()
        set_adapter_dtype(self.model, adapter_dtype)
        self._outputs = None
        self._nonfinite = 0
        # TRL's per-token log-probs, read off the forward it runs anyway (asking
        # compute_loss for its outputs would cost a second forward).
        self._hook = self.model.register_forward_hook(self._keep_outputs)

    def close(self) -> None:
        """Detach from the model, which outlives this trainer (preflight, then train)."""
        self._hook.remove()

    def _keep_outputs(self, module, args, output):
        self._outputs = output if module.training else None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        segment, index = inputs.pop("segment", None), inputs.pop("index", None)
        if self.loss_head == "logits":
            result = self._loss_from_logits(model, inputs, return_outputs, num_items_in_batch)
        else:
            result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                          num_items_in_batch=num_items_in_batch)
        if model.training:
            loss = result[0] if return_outputs else result
            self.monitor.observe(loss, self._outputs, segment, index, self.state.global_step)
            self._outputs = None
            # the Trainer's count (non-padding tokens, all ranks), which a checkpoint carries:
            # TRL's own restarts from zero on --resume
            self._metrics["train"]["num_tokens"] = [self.state.num_input_tokens_seen]
        return result

    def _loss_from_logits(self, model, inputs, return_outputs, num_items_in_batch):
        """TRL's loss (summed token NLL over the supervised tokens of the accumulated batch)
        from the logits of the supervised positions only: the LM head and the softmax over
        the vocabulary skip the prompt and the padding (`supervised_logits`). TRL's fused
        LM head computes the same loss in chunks, with entropy and accuracy on top: it
        saves memory on a GPU with a large vocabulary but made a CPU step of SmolLM2 ~1.45x
        slower (benchmarks/bench_real_model.py)."""
        import torch
        import torch.nn.functional as F

        labels = inputs["labels"]
        target = labels[:, 1:]
        mask = target != -100
        outputs, logits = supervised_logits(model, {k: v for k, v in inputs.items() if k != "labels"}, mask)
        picked = F.cross_entropy(logits.float(), target[mask], reduction="none")
        nll = picked.new_zeros(target.shape)
        nll[mask] = picked
        count = mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = picked.sum() / torch.as_tensor(count, device=nll.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        if model.training:
            self._outputs = SimpleNamespace(log_probs=-nll, label_mask=mask)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step; a non-finite loss is counted here and kept out of the
        running sum (where NaN would poison every later logged loss). The log record of
        its window then shows NaN, never a made-up number."""
        if self.observed_compute_dtype:
            loss = super().training_step(model, inputs, num_items_in_batch)
        else:
            loss = self._first_step(model, inputs, num_items_in_batch)
        if not bool(loss.isfinite().all()):
            self._nonfinite += 1
            return loss.new_zeros(())
        return loss

    def _first_step(self, model, inputs, num_items_in_batch):
        """A step that also proves the configured compute dtype is the one in effect."""
        probe = ComputeDtypeProbe(model)
        try:
            loss = super().training_step(model, inputs, num_items_in_batch)
        except RuntimeError as e:  # fp32 activations met the frozen base held in bf16: no autocast
            if "same dtype" not in str(e) or self.compute_dtype != "bfloat16":
                raise
            raise TrainingHealthError(
                "the base layers computed in float32 in the first training step (the frozen base is held "
                f"in bf16 but the forward ran without bf16 autocast), but compute_dtype resolved to "
                f"{self.compute_dtype}: mixed precision is not in effect as configured") from None
        finally:
            probe.remove()
        self.observed_compute_dtype = probe.seen or {UNOBSERVED}
        if probe.seen and probe.seen != {self.compute_dtype}:
            raise TrainingHealthError(
                f"the base layers computed in {dtype_names(probe.seen)} in the first training "
                f"step, but compute_dtype resolved to {self.compute_dtype}: mixed precision is not "
                "in effect as configured")
        return loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict:
        """The eval loss, plus dev Smatch (`eval_smatch`) when the run selects by it."""
        metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        if self.dev_score is not None and eval_dataset is None:
            key = f"{metric_key_prefix}_smatch"
            metrics[key] = self.dev_score(self.model)
            self.log({key: metrics[key]})
        return metrics

    def log(self, logs: dict, start_time=None) -> None:
        if "loss" in logs and self._nonfinite:
            logs["loss"] = float("nan")
            logs["nonfinite_losses"] = self._nonfinite
            self._nonfinite = 0
        if "loss" in logs:
            logs.update(self.monitor.segment_losses(self.variant))
            logs["skipped_steps"] = self.monitor.state.skipped_steps
        super().log(logs, start_time)

    def _save_checkpoint(self, model, trial) -> None:
        """TRL's save, then the commit record (`visempar.train.checkpoints`), then rotation:
        an old checkpoint is deleted only once the new one is committed."""
        folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        limit = self.args.save_total_limit
        self.args.save_total_limit = None  # no rotation inside the save, before the commit
        try:
            super()._save_checkpoint(model, trial)
        except OSError as e:
            raise CheckpointError(f"{folder}: the checkpoint could not be written ({e.strerror or e}); "
                                  "the committed checkpoints before it are intact: make room, then "
                                  "--resume") from None
        finally:
            self.args.save_total_limit = limit
        if self.args.world_size > 1:
            import torch.distributed as dist

            dist.barrier()
        if self.args.should_save:
            commit(folder, step=self.state.global_step, health=self.monitor.state.to_dict())
            best = self.state.best_model_checkpoint
            rotate(folder.parent, limit, {Path(best)} if best else set())


def supervised_logits(model, inputs: dict, supervised):
    """The model's outputs and the logits of the positions that predict a supervised token,
    flattened to (supervised tokens, vocabulary) in row-major order, as `target[supervised]`.

    `supervised` is the (batch, length - 1) mask of shifted labels; position t predicts
    token t + 1. The positions go to the model as a boolean `logits_to_keep` (transformers
    5), so the LM head runs on them alone; a model that returns every position's logits
    instead is cut here, with the same result."""
    keep = supervised.new_zeros((supervised.shape[0], supervised.shape[1] + 1))
    keep[:, :-1] = supervised
    outputs = model(**inputs, use_cache=False, logits_to_keep=keep)
    logits = outputs.logits
    if logits.dim() == 3:
        logits = logits[:, :-1][supervised]
    return outputs, logits


class MetricsWriter(TrainerCallback):
    """Every log record as one JSON line, LR in full precision (A5); one file per rank."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            record = {"step": state.global_step, "epoch": state.epoch, **logs}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            except OSError as e:  # a full disk: one line naming the file, not a traceback
                raise CheckpointError(f"{self.path}: the metrics could not be written ({e.strerror or e}); the "
                                      "committed checkpoints are intact: make room, then --resume") from None


class ReadableProgress(ProgressCallback):
    """The progress bar, with one plain line per log instead of a dict: the figures, and
    the pace since the previous line (seconds per optimizer step, non-padding tokens per
    second) with the time left at that pace. Evaluation time is left out of the pace."""

    _mark: tuple[float, int, int] | None = None  # (time, step, tokens seen) of the last line

    def _set_mark(self, state) -> None:
        self._mark = (time.perf_counter(), state.global_step, state.num_input_tokens_seen)

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        self._set_mark(state)

    def on_evaluate(self, args, state, control, **kwargs):
        super().on_evaluate(args, state, control, **kwargs)
        self._set_mark(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        parts = [f"step {state.global_step}/{state.max_steps}"]
        for key, label, fmt in (("loss", "loss", ".4f"), ("loss_task1", "task1", ".4f"),
                                ("loss_task2", "task2", ".4f"), ("loss_graph", "graph", ".4f"),
                                ("grad_norm", "grad", ".3g"), ("learning_rate", "lr", ".4e"),
                                ("eval_loss", "eval loss", ".4f"), ("eval_smatch", "dev smatch", ".4f"),
                                ("skipped_steps", "skipped", "d")):
            if key in logs and logs[key] is not None:
                parts.append(f"{label} {logs[key]:{fmt}}")
        if "loss" in logs and self._mark and state.global_step > self._mark[1]:
            start, step, tokens = self._mark
            seconds = time.perf_counter() - start
            per_step = seconds / (state.global_step - step)
            parts.append(f"{per_step:.2f} s/step, {(state.num_input_tokens_seen - tokens) / seconds:,.0f} tok/s, "
                         f"ETA {_clock(per_step * (state.max_steps - state.global_step))}")
            self._set_mark(state)
        if len(parts) > 1:
            self.training_bar.write(" | ".join(parts))


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def sft_config(config: TrainConfig, schedule: Schedule, output_dir: Path, compute: str) -> SFTConfig:
    """The SFTConfig of a run; `compute` is the stack's resolved compute dtype."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = compute == "bfloat16"  # autocast, on CPU too
    return SFTConfig(
        output_dir=str(output_dir), seed=config.seed, data_seed=config.seed,
        max_steps=schedule.total_steps, warmup_steps=schedule.warmup_steps,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler,
        optim=config.optimizer, weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        logging_steps=config.logging_steps, logging_first_step=True, logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",  # the pace in the step lines
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=config.save_total_limit,
        eval_strategy="steps" if config.eval_steps else "no", eval_steps=config.eval_steps or None,
        load_best_model_at_end=selects_best(config),
        metric_for_best_model="eval_smatch" if config.select_best == "smatch" else "eval_loss",
        greater_is_better=config.select_best == "smatch",
        bf16=bf16, fp16=False, use_cpu=not cuda,
        activation_checkpointing=False,  # the builder enabled it, after LoRA
        max_length=None, dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False,
        report_to=trackers(config) or "none", ddp_find_unused_parameters=False, dataloader_num_workers=0,
        # batches of similar lengths: less padding, the same examples per epoch
        **({"train_sampling_strategy": "group_by_length"} if config.group_by_length else {}),
        prediction_loss_only=True,  # evaluation needs the loss; gathering logits costs GBs
    )


def selects_best(config: TrainConfig) -> bool:
    """Whether the run keeps its best evaluated adapter rather than its last."""
    return config.eval_steps > 0 and config.select_best != "last"


def loss_head(setting: str) -> str:
    """`auto`: TRL's fused LM head on CUDA (memory), the full logits on CPU (speed)."""
    import torch

    if setting != "auto":
        return setting
    return "fused" if torch.cuda.is_available() else "logits"


def make_trainer(config: TrainConfig, stack: Stack, train_rows, eval_rows, schedule: Schedule,
                 output_dir: Path, monitor: HealthMonitor, callbacks=(), dev_score=None) -> VisemparTrainer:
    from datasets import Dataset

    trainer = VisemparTrainer(
        model=stack.model, args=sft_config(config, schedule, output_dir, stack.compute_dtype),
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=stack.tokenizer, data_collator=Collator(stack.tokenizer.pad_token_id),
        callbacks=[monitor, *callbacks], monitor=monitor, variant=config.variant,
        adapter_dtype=config.adapter_dtype, compute_dtype=stack.compute_dtype,
        loss_head=loss_head(config.loss_head), dev_score=dev_score)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(ReadableProgress())
    for callback in trainer.callback_handler.callbacks:  # RUN/tensorboard, not RUN/checkpoints/runs
        if type(callback).__name__ == "TensorBoardCallback":
            callback.logging_dir = str(Path(output_dir).parent / "tensorboard")
    return trainer
