"""The learning-rate schedule, sized in optimizer steps (failure modes A4, A5).

optimizer steps = ceil(micro-batches per epoch / accumulation) x epochs, where the
micro-batches per epoch count this rank's share of the data. The trainer is given these
numbers explicitly (`max_steps`, integer `warmup_steps`), so the schedule it runs is the
one preflight prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from visempar.config import TrainConfig


@dataclass(frozen=True)
class Schedule:
    examples: int
    micro_batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    lr_at: dict[str, float]

    def to_dict(self) -> dict:
        return {"examples": self.examples, "micro_batches_per_epoch": self.micro_batches_per_epoch,
                "optimizer_steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "lr_at": self.lr_at}

    def describe(self) -> str:
        lrs = ", ".join(f"{k} {v:.4g}" for k, v in self.lr_at.items())
        return (f"{self.total_steps} optimizer steps ({self.steps_per_epoch}/epoch from "
                f"{self.micro_batches_per_epoch} micro-batches), warmup {self.warmup_steps}; LR {lrs}")


def lr_curve(config: TrainConfig, total_steps: int, warmup_steps: int) -> list[float]:
    """The LR each optimizer step runs at, from transformers' own scheduler."""
    import torch
    from transformers import get_scheduler

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=config.learning_rate)
    sched = get_scheduler(config.lr_scheduler, opt, num_warmup_steps=warmup_steps,
                          num_training_steps=total_steps)
    lrs = []
    for _ in range(total_steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def plan(config: TrainConfig, examples: int, world_size: int = 1) -> Schedule:
    per_rank = math.ceil(examples / world_size)
    micro = max(1, math.ceil(per_rank / config.per_device_train_batch_size))
    per_epoch = max(1, math.ceil(micro / config.gradient_accumulation_steps))
    total = config.max_steps if config.max_steps > 0 else max(1, math.ceil(per_epoch * config.num_train_epochs))
    warmup = int(config.warmup) if config.warmup >= 1 else math.ceil(config.warmup * total)
    lrs = lr_curve(config, total, warmup)
    points = {"step 1": lrs[0]}
    if warmup:
        points["end of warmup"] = lrs[min(warmup, total - 1)]
    points["peak"] = max(lrs)
    points["last step"] = lrs[-1]
    return Schedule(examples, micro, per_epoch, total, warmup, points)
