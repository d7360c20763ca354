"""Checks of the environment and the config alone, before anything is built (A2, A4)."""

from __future__ import annotations

import math

from visempar.preflight.report import Check, fail, ok, warn

# Sane peak learning rates per optimizer family (A2): (low, high). 10x below low fails.
LR_RANGES = {
    "adamw": (1e-5, 3e-3),
    "adamw-8bit": (1e-5, 3e-3),
    "adafactor": (1e-5, 1e-2),
    "sgd": (1e-3, 1.0),
    "muon": (5e-4, 2e-2),
}


def optimizer_family(name: str) -> str:
    if "8bit" in name:
        return "adamw-8bit"
    for family in ("adafactor", "sgd"):  # muon's range serves the hint of a rate outside AdamW's
        if family in name:
            return family
    return "adamw"


STACK = ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "datasets", "smatch",
         "penman", "evaluate")


def package_versions() -> dict[str, str | None]:
    """The installed version of each package of the stack (None: not installed)."""
    import importlib.metadata as md

    versions = {}
    for name in STACK:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return versions


def check_environment(config) -> Check:
    import torch

    from visempar.model.device import compute_dtype, describe

    versions = package_versions()

    cuda = torch.cuda.is_available()
    details = {"versions": versions, "cuda": cuda, "compute_dtype": compute_dtype(config.compute_dtype),
               "threads": torch.get_num_threads()}
    if config.load_in_4bit == "true" and not cuda:
        from visempar.model.build import cpu_4bit_problem

        problem = cpu_4bit_problem()
        if problem:
            return fail(f"4-bit loading requested (load_in_4bit: true) without CUDA, and {problem}",
                        "install a bitsandbytes with CPU support, or set load_in_4bit: false", details)
    if "8bit" in config.optimizer and not cuda:
        return fail(f"optimizer {config.optimizer} needs bitsandbytes on CUDA",
                    "use optimizer: adamw_torch on CPU", details)
    if config.compute_dtype == "bfloat16" and compute_dtype("auto") != "bfloat16":
        return warn(f"compute_dtype: bfloat16 on hardware without native bf16 ({describe('float32')}): "
                    "it runs, emulated, usually slower than fp32", "set compute_dtype: auto", details)
    where = describe(config.compute_dtype)
    return ok(f"torch {versions['torch']}, transformers {versions['transformers']}, "
              f"trl {versions['trl']}, peft {versions['peft']}; {where}", details)


def check_learning_rate(config) -> Check:
    family = optimizer_family(config.optimizer)
    low, high = LR_RANGES[family]
    lr = config.learning_rate
    steps_for_1pct = math.ceil(0.01 / lr) if lr > 0 else None
    details = {"family": family, "range": [low, high], "learning_rate": lr}
    if lr < low / 10:
        return fail(f"learning_rate {lr:.3g} is far below the {family} range {low:g}..{high:g}: "
                    f"about {steps_for_1pct:,} steps per 1% weight change",
                    f"use a learning rate in {low:g}..{high:g} for {config.optimizer}", details)
    if not low <= lr <= high:
        other = [f for f, (lo, hi) in LR_RANGES.items() if lo <= lr <= hi and f != family]
        hint = f" (a typical rate for {', '.join(other)})" if other else ""
        return warn(f"learning_rate {lr:.3g} is outside the usual {family} range "
                    f"{low:g}..{high:g}{hint}", f"check the rate suits {config.optimizer}", details)
    return ok(f"learning_rate {lr:.3g} within the {family} range {low:g}..{high:g}", details)


def check_schedule(config, schedule) -> Check:
    reason = (f"{schedule.total_steps} optimizer steps = ceil({schedule.micro_batches_per_epoch} "
              f"micro-batches / {config.gradient_accumulation_steps} accumulation) x "
              f"{config.num_train_epochs:g} epochs; warmup {schedule.warmup_steps}; LR "
              + ", ".join(f"{k} {v:.4g}" for k, v in schedule.lr_at.items()))
    if config.max_steps > 0:
        reason = f"{schedule.total_steps} optimizer steps (max_steps); " + reason.split("; ", 1)[1]
    if schedule.warmup_steps >= schedule.total_steps:
        return fail(f"warmup ({schedule.warmup_steps} steps) never ends within "
                    f"{schedule.total_steps} optimizer steps: the LR never reaches its peak",
                    "size warmup in optimizer steps, or as a ratio < 1", schedule.to_dict())
    if schedule.lr_at["peak"] <= 0:
        return fail("the LR is zero at every step", "check learning_rate and lr_scheduler",
                    schedule.to_dict())
    return ok(reason, schedule.to_dict())
