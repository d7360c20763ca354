"""TRL's `SFTTrainer` with visempar's monitor, logs and committed checkpoints.

The subclass changes no arithmetic: the loss is TRL's. It reads per-task losses off the
same forward, drops the gradients of unhealthy steps (`HealthMonitor`), keeps adapters in
the configured dtype (TRL casts QLoRA adapters to bf16), and marks a checkpoint complete
only after everything in it was written, so a crash mid-save never leaves a checkpoint
that `--resume` would trust.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback
from trl import SFTConfig, SFTTrainer

from visempar.data.encode import Collator
from visempar.model.build import Stack, set_adapter_dtype
from visempar.train.config import TrainConfig
from visempar.train.health import HealthMonitor
from visempar.train.schedule import Schedule

COMPLETE = "visempar-complete.json"


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class VisemparTrainer(SFTTrainer):
    def __init__(self, *args, monitor: HealthMonitor, variant: str, adapter_dtype: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.monitor = monitor
        self.variant = variant
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
        result = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                      num_items_in_batch=num_items_in_batch)
        if model.training:
            loss = result[0] if return_outputs else result
            self.monitor.observe(loss, self._outputs, segment, index, self.state.global_step)
            self._outputs = None
        return result

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step; a non-finite loss is counted here and kept out of the
        running sum (where NaN would poison every later logged loss). The log record of
        its window then shows NaN, never a made-up number."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not bool(loss.isfinite().all()):
            self._nonfinite += 1
            return loss.new_zeros(())
        return loss

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
        super()._save_checkpoint(model, trial)
        if self.args.world_size > 1:
            import torch.distributed as dist

            dist.barrier()
        if self.args.should_save:
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            write_atomic(folder / COMPLETE, json.dumps(
                {"step": self.state.global_step, "health": self.monitor.state.to_dict()}) + "\n")


class MetricsWriter(TrainerCallback):
    """Every log record as one JSON line, LR in full precision (A5); one file per rank."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            record = {"step": state.global_step, "epoch": state.epoch, **logs}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")


class ReadableProgress(ProgressCallback):
    """The progress bar, with one plain line per log instead of a dict."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not (state.is_world_process_zero and self.training_bar is not None and logs):
            return
        parts = [f"step {state.global_step}/{state.max_steps}"]
        for key, label, fmt in (("loss", "loss", ".4f"), ("loss_task1", "task1", ".4f"),
                                ("loss_task2", "task2", ".4f"), ("loss_graph", "graph", ".4f"),
                                ("grad_norm", "grad", ".3g"), ("learning_rate", "lr", ".4e"),
                                ("eval_loss", "eval loss", ".4f"), ("skipped_steps", "skipped", "d")):
            if key in logs and logs[key] is not None:
                parts.append(f"{label} {logs[key]:{fmt}}")
        if len(parts) > 1:
            self.training_bar.write(" | ".join(parts))


def sft_config(config: TrainConfig, schedule: Schedule, output_dir: Path) -> SFTConfig:
    import torch

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    return SFTConfig(
        output_dir=str(output_dir), seed=config.seed, data_seed=config.seed,
        max_steps=schedule.total_steps, warmup_steps=schedule.warmup_steps,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler,
        optim=config.optimizer, weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        logging_steps=config.logging_steps, logging_first_step=True, logging_nan_inf_filter=False,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=config.save_total_limit,
        eval_strategy="steps" if config.eval_steps else "no", eval_steps=config.eval_steps or None,
        bf16=bf16, fp16=False, use_cpu=not cuda,
        activation_checkpointing=False,  # the builder enabled it, after LoRA
        max_length=None, dataset_kwargs={"skip_prepare_dataset": True}, remove_unused_columns=False,
        report_to="none", ddp_find_unused_parameters=False, dataloader_num_workers=0,
    )


def make_trainer(config: TrainConfig, stack: Stack, train_rows, eval_rows, schedule: Schedule,
                 output_dir: Path, monitor: HealthMonitor, callbacks=()) -> VisemparTrainer:
    from datasets import Dataset

    trainer = VisemparTrainer(
        model=stack.model, args=sft_config(config, schedule, output_dir),
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
        processing_class=stack.tokenizer, data_collator=Collator(stack.tokenizer.pad_token_id),
        callbacks=[monitor, *callbacks], monitor=monitor, variant=config.variant,
        adapter_dtype=config.adapter_dtype)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(ReadableProgress())
    return trainer
