"""Checks that take real steps: forward, backward and optimizer steps at the peak LR on
real batches (finite loss and grad norm, a gradient for and movement of every trainable
tensor), the precision the base layers really computed in during them, and the evaluation
path (A1, B1, B2, C1)."""

from __future__ import annotations

import math
import os

from visempar.preflight.model_checks import trainable
from visempar.preflight.report import Check, fail, ok, warn

MOVED_FRACTION = 0.5


def _module(name: str) -> str:
    """The unit a gradient is judged by: a LoRA tensor's module (its A and B share one, and A's
    first gradient is zero while B is), any other tensor by itself."""
    return name.replace("lora_A", "lora_*").replace("lora_B", "lora_*")


def check_precision(prepared, trainer) -> Check:
    """The dtype the base layers computed in during the real steps, against the config."""
    from visempar.model.device import UNOBSERVED, dtype_names

    want = prepared.stack.compute_dtype
    got = sorted(trainer.observed_compute_dtype - {UNOBSERVED})
    details = {"expected": want, "observed": got}
    if not got:
        return warn("no LoRA-wrapped layer ran, so the compute dtype was not observed", "", details)
    if got != [want]:
        return fail(f"the base layers computed in {dtype_names(got)} during the training steps, "
                    f"but compute_dtype resolved to {want}",
                    "bf16 must come from autocast (SFTConfig bf16) over fp32 trainable tensors", details)
    how = "under bf16 autocast" if want == "bfloat16" else "in fp32"
    held = {str(p.dtype).replace("torch.", "") for p in trainable(prepared.stack.model).values()}
    return ok(f"base layers computed {how} in the training steps; trainable tensors stay "
              f"{dtype_names(held)}", details)


def run_steps(prepared, trainer, steps: int) -> tuple[Check, ...]:
    """Forward/backward and optimizer steps at the peak LR on real batches, under the
    trainer's own autocast (what `accelerator.prepare` wraps the forward in): did every
    trainable tensor get a gradient, did every one move, and what will the longest batch
    need in memory? (gradient, movement, memory), or two failed checks."""
    resident = resident_gib()
    params = trainable(trainer.model)
    before = {n: p.detach().clone() for n, p in params.items()}
    peak = prepared.schedule.lr_at["peak"]
    stepped = _take_steps(prepared, trainer, params, peak, steps)
    if isinstance(stepped, tuple):
        return stepped
    grad_check, no_grad = _gradient_check(params, stepped, steps)
    return (grad_check, _movement_check(params, before, peak, no_grad, steps),
            check_memory(prepared, resident, stepped["tokens"]))


def resident_gib() -> float | None:
    """This process's resident memory now, in GiB (Linux: /proc/self/status); None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 2**20
    except (OSError, StopIteration, ValueError):
        return None


def check_memory(prepared, resident: float | None, stepped_tokens: int) -> Check:
    """The training peak estimated for the configured longest batch (padded batch x the
    longest example), from what the real steps added to the resident memory, scaled by
    tokens (activations grow with them); a warning when it nears the machine's memory,
    before hours are spent."""
    import resource

    if resident is None or not stepped_tokens:
        return ok("peak memory not measured on this system")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    batch = prepared.config.per_device_train_batch_size
    longest = batch * max(prepared.train.lengths.lengths)
    estimate = resident + max(0.0, peak - resident) * longest / stepped_tokens
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    details = {"resident_gib": round(resident, 2), "steps_peak_gib": round(peak, 2),
               "stepped_tokens": stepped_tokens, "longest_batch_tokens": longest,
               "estimated_peak_gib": round(estimate, 2), "machine_gib": round(total, 2)}
    reason = (f"about {estimate:.1f} GiB at the longest batch ({batch} x {longest // batch} tokens), "
              f"of {total:.1f} GiB; the steps here peaked at {peak:.1f} GiB")
    if estimate > 0.9 * total:
        return warn(reason, "turn on activation_checkpointing, lower per_device_train_batch_size "
                    "(raise gradient_accumulation_steps to keep the batch) or lower max_length", details)
    return ok(reason, details)


def _take_steps(prepared, trainer, params: dict, peak: float, steps: int):
    """`{"losses", "grad_norms", "got_grad"}` after `steps` optimizer steps at `peak`, or
    the pair of failed checks when a step fails."""
    import torch

    model = trainer.model
    got_grad: dict[str, bool] = {n: False for n in params}
    trainer.create_optimizer_and_scheduler(num_training_steps=prepared.schedule.total_steps)
    optimizer = trainer.optimizer
    for group in optimizer.param_groups:
        group["lr"] = peak
    trainer.current_gradient_accumulation_steps = 1
    losses, norms, tokens = [], [], 0
    loader = iter(trainer.get_train_dataloader())
    for step in range(steps):
        batch = next(loader)
        tokens = max(tokens, batch["input_ids"].numel())
        index = batch["index"].tolist()
        items = trainer._get_num_items_in_batch([batch], trainer.args.device)
        skipped = trainer._nonfinite
        try:
            with trainer.accelerator.autocast():
                loss = trainer.training_step(model, batch, items)
        except RuntimeError as err:
            if "does not require grad" not in str(err):
                raise
            return (fail(f"backward failed: no trainable tensor received a gradient ({err})",
                         "apply LoRA before activation checkpointing, non-reentrant (A3)"),
                    fail("not run: the backward pass failed", "fix train.backward first"))
        if trainer._nonfinite > skipped:  # the trainer keeps NaN out of its sums; report it here
            loss = torch.tensor(math.nan)
        losses.append(float(loss))
        if not math.isfinite(float(loss)):
            return (fail(f"non-finite loss {float(loss)} at step {step + 1} on examples {index}",
                         "inspect those examples; lower the LR; never clamp NaN to zero",
                         {"losses": [str(x) for x in losses]}),
                    fail("not run: the forward pass failed", "fix train.backward first"))
        for n, p in params.items():
            if p.grad is not None and torch.count_nonzero(p.grad).item() > 0:
                got_grad[n] = True
        norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), trainer.args.max_grad_norm))
        norms.append(norm)
        if not math.isfinite(norm):
            return (fail(f"non-finite gradient norm at step {step + 1} on examples {index}",
                         "lower the LR; check the data; use fp32 trainable tensors",
                         {"losses": losses, "grad_norms": [str(x) for x in norms]}),
                    fail("not run: the backward pass failed", "fix train.backward first"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"losses": losses, "grad_norms": norms, "got_grad": got_grad, "tokens": tokens}


def _gradient_check(params: dict, stepped: dict, steps: int) -> tuple[Check, list[str]]:
    """LoRA B starts at zero, so A's first gradient is zero: judged per module, over the steps."""
    got_grad, losses, norms = stepped["got_grad"], stepped["losses"], stepped["grad_norms"]
    reached = {_module(n) for n in params if got_grad[n]}
    no_grad = [n for n in params if _module(n) not in reached]
    details = {"losses": losses, "grad_norms": norms, "steps": steps}
    if no_grad:
        return (fail(f"{len(no_grad)} of {len(params)} trainable tensors received no gradient "
                     f"in {steps} steps (e.g. {no_grad[0]})",
                     "apply LoRA before activation checkpointing, non-reentrant (A3)", details), no_grad)
    return (ok(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, grad norm "
               f"{norms[0]:.3g}; every trainable tensor got a gradient", details), no_grad)


def _movement_check(params: dict, before: dict, peak: float, no_grad: list[str], steps: int) -> Check:
    """Adam-like steps move every element that has a gradient; below half of them means
    rounding (low precision) or no gradient, and none at all means the tensor is frozen."""
    moved = {n: float((p.detach() != before[n]).float().mean()) for n, p in params.items()}
    low = ("bfloat16", "float16")
    dtype = {n: str(p.dtype).replace("torch.", "") for n, p in params.items()}
    frozen = [n for n, f in moved.items() if f == 0.0 or (f < MOVED_FRACTION and dtype[n] in low)]
    sparse = [n for n, f in moved.items() if f < MOVED_FRACTION and n not in frozen]
    fractions = sorted(moved.values())
    details = {"peak_lr": peak, "min_fraction_changed": fractions[0],
               "median_fraction_changed": fractions[len(fractions) // 2],
               "not_moved": {n: moved[n] for n in frozen[:20]}}
    summary = (f"fraction of elements changed min {fractions[0]:.3f}, median "
               f"{fractions[len(fractions) // 2]:.3f}")
    if frozen:
        name = frozen[0]
        if name in no_grad:
            cause = "it received no gradient"
        elif dtype[name] in low:
            cause = (f"it is held in {dtype[name]}, and an update of ~{peak:.1g} is below half an ulp "
                     "of most of its values, so it rounds away (A1/A6)")
        else:
            cause = f"the learning rate {peak:.3g} is too small to change it"
        return fail(f"{len(frozen)} of {len(params)} trainable tensors (almost) did not "
                    f"move after {steps} optimizer steps at the peak LR {peak:.3g} (e.g. {name}, "
                    f"{moved[name]:.1%} of elements changed): {cause}",
                    "keep trainable tensors fp32 and use a learning rate in the optimizer's range", details)
    if sparse:
        return warn(f"{len(sparse)} trainable tensors changed in under "
                    f"{MOVED_FRACTION:.0%} of their elements (e.g. {sparse[0]}); {summary}",
                    "check their gradients and the LR", details)
    return ok(f"every trainable tensor moved at LR {peak:.3g}; {summary}", details)


def check_eval_path(prepared, trainer, examples: int = 2) -> Check:
    """Eval loss, generation with the training prompt builder, repair, Smatch."""
    from dataclasses import replace

    from visempar.infer.generate import dev_smatch
    from visempar.passes import Passes

    cfg = prepared.config
    metrics = trainer.evaluate()
    eval_loss = metrics.get("eval_loss")
    if eval_loss is None or not math.isfinite(eval_loss):
        return fail(f"eval loss is {eval_loss}", "check the eval data", metrics)
    budget = replace(prepared.budget, cap=min(prepared.budget.cap, 64))
    dev = dev_smatch(trainer.model, prepared.stack.tokenizer, prepared.builder,
                     prepared.eval.examples[:examples], budget=budget, batch_size=examples,
                     concepts=cfg.concepts, compute_dtype=prepared.stack.compute_dtype,
                     passes=Passes.of(cfg), lexicon=prepared.lexicon)
    return ok(f"eval loss {eval_loss:.4f}; generated {len(dev.generations)} graphs "
              f"({', '.join(dev.paths)}), Smatch F1 {dev.f1:.3f}",
              {"eval_loss": eval_loss, "generations": dev.generations, "smatch_f1": dev.f1})
