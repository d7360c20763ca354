"""`visempar preflight`: prove, in seconds, that the training stack will train.

The checks run on exactly what `visempar train` builds (`visempar.train.run.prepare`,
`make_trainer`): the same config, model, data, collator, loss and optimizer. Forward,
backward and optimizer steps use the trainer's own `training_step`; the evaluation path
runs eval loss, generation, repair and Smatch. Trainable weights and RNG state are
restored afterwards, so `train` can reuse the stack.
"""

from __future__ import annotations

import dataclasses
import math
import random
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from visempar.errors import VisemparError

PASS, WARN, FAIL = "pass", "warn", "fail"
MOVED_FRACTION = 0.5

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


@dataclass
class Check:
    id: str
    status: str
    reason: str
    fix: str = ""
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


@dataclass
class Report:
    checks: list[Check]
    seconds: float

    def failed(self, strict: bool = False) -> list[Check]:
        bad = (FAIL, WARN) if strict else (FAIL,)
        return [c for c in self.checks if c.status in bad]

    def get(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "checks": [asdict(c) for c in self.checks],
                "failed": [c.id for c in self.failed()]}

    def table(self) -> str:
        width = max(len(c.id) for c in self.checks)
        lines = [f"{'check':<{width}}  status  time   reason"]
        for c in self.checks:
            lines.append(f"{c.id:<{width}}  {c.status.upper():<6}  {c.seconds:5.2f}s {c.reason}")
            if c.status != PASS and c.fix:
                lines.append(f"{'':<{width}}                 fix: {c.fix}")
        fails, warns = sum(c.status == FAIL for c in self.checks), sum(c.status == WARN for c in self.checks)
        lines.append(f"preflight: {len(self.checks)} checks, {fails} failed, {warns} warnings, "
                     f"{self.seconds:.1f} s")
        return "\n".join(lines)


class Preflight:
    """Runs the checks in order; a check that raises is a failure naming the exception."""

    def __init__(self, log: Callable = print):
        self.checks: list[Check] = []
        self.log = log

    def run(self, check_id: str, fn: Callable[[], Check | tuple], fix: str = "") -> Check:
        start = time.perf_counter()
        return self.add(check_id, attempt(fn), fix, time.perf_counter() - start)

    def add(self, check_id: str, check: Check, fix: str = "", seconds: float | None = None) -> Check:
        check.id = check_id
        check.fix = check.fix or fix
        if seconds is not None:
            check.seconds = seconds
        self.checks.append(check)
        return check


def failure(err: Exception) -> Check:
    """A failed check naming the exception and the line that raised it."""
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return Check("", FAIL, f"{type(err).__name__}: {err} (at {Path(frame.filename).name}:{frame.lineno})")


def attempt(fn: Callable[[], Check | tuple]):
    """`fn()` as a Check (or a tuple of Checks as they are); an exception becomes a failure
    naming it and where it was raised: the point of preflight is to report, not crash."""
    try:
        result = fn()
    except Exception as err:
        return failure(err)
    if isinstance(result, tuple) and result and isinstance(result[0], Check):
        return result
    return result if isinstance(result, Check) else Check("", *result)


# -- environment and config ---------------------------------------------------------------

def check_environment(config) -> tuple:
    import importlib.metadata as md

    import torch

    versions = {p: md.version(p) for p in ("torch", "transformers", "trl", "peft", "accelerate",
                                           "bitsandbytes", "datasets", "smatch", "penman")}
    from visempar.model.device import compute_dtype, describe

    cuda = torch.cuda.is_available()
    details = {"versions": versions, "cuda": cuda, "compute_dtype": compute_dtype(config.compute_dtype),
               "threads": torch.get_num_threads()}
    if config.load_in_4bit == "true" and not cuda:
        from visempar.model.build import cpu_4bit_problem

        problem = cpu_4bit_problem()
        if problem:
            return (FAIL, f"4-bit loading requested (load_in_4bit: true) without CUDA, and {problem}",
                    "install a bitsandbytes with CPU support, or set load_in_4bit: false", 0.0, details)
    if "8bit" in config.optimizer and not cuda:
        return (FAIL, f"optimizer {config.optimizer} needs bitsandbytes on CUDA",
                "use optimizer: adamw_torch on CPU", 0.0, details)
    if config.compute_dtype == "bfloat16" and compute_dtype("auto") != "bfloat16":
        return (WARN, f"compute_dtype: bfloat16 on hardware without native bf16 ({describe('float32')}): "
                "it runs, emulated, usually slower than fp32", "set compute_dtype: auto", 0.0, details)
    where = describe(config.compute_dtype)
    return (PASS, f"torch {versions['torch']}, transformers {versions['transformers']}, "
            f"trl {versions['trl']}, peft {versions['peft']}; {where}", "", 0.0, details)


def check_learning_rate(config) -> tuple:
    family = optimizer_family(config.optimizer)
    low, high = LR_RANGES[family]
    lr = config.learning_rate
    steps_for_1pct = math.ceil(0.01 / lr) if lr > 0 else None
    details = {"family": family, "range": [low, high], "learning_rate": lr}
    if lr < low / 10:
        return (FAIL, f"learning_rate {lr:.3g} is far below the {family} range {low:g}..{high:g}: "
                f"about {steps_for_1pct:,} steps per 1% weight change",
                f"use a learning rate in {low:g}..{high:g} for {config.optimizer}", 0.0, details)
    if not low <= lr <= high:
        other = [f for f, (lo, hi) in LR_RANGES.items() if lo <= lr <= hi and f != family]
        hint = f" (a typical rate for {', '.join(other)})" if other else ""
        return (WARN, f"learning_rate {lr:.3g} is outside the usual {family} range "
                f"{low:g}..{high:g}{hint}", f"check the rate suits {config.optimizer}", 0.0, details)
    return (PASS, f"learning_rate {lr:.3g} within the {family} range {low:g}..{high:g}", "", 0.0, details)


def check_schedule(config, schedule) -> tuple:
    reason = (f"{schedule.total_steps} optimizer steps = ceil({schedule.micro_batches_per_epoch} "
              f"micro-batches / {config.gradient_accumulation_steps} accumulation) x "
              f"{config.num_train_epochs:g} epochs; warmup {schedule.warmup_steps}; LR "
              + ", ".join(f"{k} {v:.4g}" for k, v in schedule.lr_at.items()))
    if config.max_steps > 0:
        reason = f"{schedule.total_steps} optimizer steps (max_steps); " + reason.split("; ", 1)[1]
    if schedule.warmup_steps >= schedule.total_steps:
        return (FAIL, f"warmup ({schedule.warmup_steps} steps) never ends within "
                f"{schedule.total_steps} optimizer steps: the LR never reaches its peak",
                "size warmup in optimizer steps, or as a ratio < 1", 0.0, schedule.to_dict())
    if schedule.lr_at["peak"] <= 0:
        return (FAIL, "the LR is zero at every step", "check learning_rate and lr_scheduler",
                0.0, schedule.to_dict())
    return (PASS, reason, "", 0.0, schedule.to_dict())


# -- data -----------------------------------------------------------------------------------

def check_lengths(prepared) -> tuple:
    report = prepared.train.lengths
    n, excluded = len(report.lengths), len(report.excluded)
    details = report.to_dict()
    tokens = details["tokens"]
    reason = (f"{n} examples, tokens mean {tokens['mean']}, p90 {tokens['p90']}, max {tokens['max']} "
              f"vs max_length {report.max_length}")
    if excluded:
        share = excluded / n
        status = FAIL if share > 0.05 else WARN
        return (status, f"{excluded} of {n} examples ({share:.0%}) longer than max_length "
                f"{report.max_length} are excluded from training (first: {report.excluded[0]})",
                f"raise max_length to at least {tokens['max']}", 0.0, details)
    return (PASS, reason, "", 0.0, details)


def check_label_mask(prepared, trainer) -> Check:
    """The collated batch the trainer sees: prompt masked, completion and EOS supervised."""
    tok = prepared.stack.tokenizer
    eos = tok.eos_token_id
    batch = next(iter(trainer.get_train_dataloader()))
    problems = []
    for row in range(batch["input_ids"].shape[0]):
        ids, labels = batch["input_ids"][row].tolist(), batch["labels"][row].tolist()
        seg, att = batch["segment"][row].tolist(), batch["attention_mask"][row].tolist()
        real = [i for i, a in enumerate(att) if a]
        prompt = [i for i in real if seg[i] == 0]
        completion = [i for i in real if seg[i] > 0]
        example = int(batch["index"][row])
        if any(labels[i] != -100 for i in prompt):
            problems.append(f"example {example}: prompt tokens are supervised")
        if not completion or any(labels[i] != ids[i] for i in completion):
            problems.append(f"example {example}: completion tokens are masked")
        if completion and (ids[completion[-1]] != eos or labels[completion[-1]] != eos):
            problems.append(f"example {example}: EOS is not the last supervised token")
        if all(label == -100 for label in labels):
            problems.append(f"example {example}: fully masked")
    first_row = batch["input_ids"][0].tolist()
    mask_row = batch["labels"][0].tolist()
    shown = "".join(f"[{tok.decode([t])}]" if m != -100 else tok.decode([t])
                    for t, m in zip(first_row, mask_row) if t != tok.pad_token_id or m != -100)
    details = {"decoded_example": shown, "legend": "[supervised] unsupervised"}
    if problems:
        return Check("", FAIL, "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
                     "labels must be -100 on the prompt and equal the ids on the completion and its EOS; "
                     "do not let pad == eos mask EOS", 0.0, details)
    return Check("", PASS, f"prompt masked, completion and EOS supervised in {batch['input_ids'].shape[0]} "
                 "collated examples", "", 0.0, details)


def check_overlap(prepared) -> tuple:
    from visempar.data.corpus import sentence_key

    train = {sentence_key(e.sentence) for e in prepared.train.examples if e.sentence}
    shared = [e.sentence for e in prepared.eval.examples if e.sentence and sentence_key(e.sentence) in train]
    if shared:
        return (WARN, f"{len(shared)} eval sentences also occur in the training data (e.g. {shared[0]!r})",
                "split with `visempar data split --test ...` to keep them apart", 0.0, {"shared": shared[:20]})
    return (PASS, f"no sentence shared between {len(train)} training and "
            f"{len(prepared.eval.examples)} eval sentences", "", 0.0, {})


def check_prompt_consistency(prepared) -> tuple:
    """The ids inference builds for a training sentence equal the trained prompt ids (D3)."""
    from visempar.data.encode import prompt_ids

    tok, builder = prepared.stack.tokenizer, prepared.builder
    for row, example in list(zip(prepared.train.rows, prepared.train.examples))[:8]:
        trained = [t for t, s in zip(row["input_ids"], row["segment"]) if s == 0]
        inferred = prompt_ids(tok, builder, example.sentence or "")
        if trained != inferred:
            cut = next((i for i, (a, b) in enumerate(zip(trained, inferred)) if a != b),
                       min(len(trained), len(inferred)))
            return (FAIL, f"{example.location}: the inference prompt differs from the training prompt "
                    f"at token {cut}: training {tok.decode(trained[cut:cut + 8])!r} vs inference "
                    f"{tok.decode(inferred[cut:cut + 8])!r}",
                    "build prompts with visempar.data.prompts.PromptBuilder in both places", 0.0, {})
    if not builder.prompt("x").endswith("\n"):
        return (FAIL, "the prompt does not end on a newline (token boundary)", "end prompts with \\n", 0.0, {})
    return (PASS, "training and inference prompts are token-identical and end on a newline", "", 0.0,
            {"prompt": builder.prompt(prepared.train.examples[0].sentence or "")})


# -- model ----------------------------------------------------------------------------------

def trainable(model) -> dict:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def check_dtypes(prepared) -> tuple:
    import torch

    params = trainable(prepared.stack.model)
    low = {n: str(p.dtype).replace("torch.", "") for n, p in params.items()
           if p.dtype in (torch.bfloat16, torch.float16)}
    details = {"trainable_dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params.values()}),
               "low_precision": list(low)[:20]}
    if low:
        return (WARN, f"{len(low)} of {len(params)} trainable tensors are held in "
                f"{next(iter(low.values()))}: an update smaller than half a bf16 ulp (2^-9 relative, "
                "~0.002 at 1.0) rounds away, so small LRs freeze them",
                "keep trainable tensors fp32 (adapter_dtype: float32); compute in bf16 via autocast",
                0.0, details)
    return (PASS, f"all {len(params)} trainable tensors are "
            f"{', '.join(details['trainable_dtypes'])}", "", 0.0, details)


def check_lora(prepared) -> tuple:
    model = prepared.stack.model
    params = trainable(model)
    lora = [n for n in params if "lora_" in n]
    total = sum(p.numel() for p in model.parameters())
    count = sum(p.numel() for p in params.values())
    details = {"trainable_tensors": len(params), "lora_tensors": len(lora),
               "trainable_parameters": count, "all_parameters": total,
               "build_order": prepared.stack.steps}
    if not lora:
        return (FAIL, "no LoRA tensor is trainable", "apply LoRA with visempar.model.build", 0.0, details)
    return (PASS, f"{len(lora)} LoRA tensors, {count:,} trainable of {total:,} parameters "
            f"({100 * count / total:.2f}%); built {' -> '.join(prepared.stack.steps)}", "", 0.0, details)


def checkpointing_mode(model) -> str | None:
    """'non-reentrant', 'reentrant' or None (off), read off the modules that checkpoint."""
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False):
            func = getattr(module, "_gradient_checkpointing_func", None)
            kwargs = getattr(func, "keywords", {}) or {}
            return "reentrant" if kwargs.get("use_reentrant", True) else "non-reentrant"
    return None


def check_checkpointing(prepared) -> tuple:
    import torch

    model = prepared.stack.model
    mode = checkpointing_mode(model)
    if mode is None:
        return (PASS, "activation checkpointing off", "", 0.0, {"mode": None})
    if mode == "reentrant":
        emb = model.get_input_embeddings()
        probe = emb(torch.tensor([[0]], device=emb.weight.device))
        if not probe.requires_grad:
            return (FAIL, "reentrant activation checkpointing with a frozen embedding whose output does "
                    "not require grad: the checkpointed layers (and their LoRA) get no gradient (A3)",
                    "use non-reentrant checkpointing after LoRA (visempar's builder does)", 0.0, {"mode": mode})
        return (WARN, "reentrant activation checkpointing (works, with input grads enabled)",
                "prefer use_reentrant: False", 0.0, {"mode": mode})
    return (PASS, "non-reentrant activation checkpointing, enabled after LoRA", "", 0.0, {"mode": mode})


# -- steps ----------------------------------------------------------------------------------

def _lora_pairs(names):
    return {n.replace("lora_A", "lora_*").replace("lora_B", "lora_*") for n in names if "lora_" in n}


def check_precision(prepared, trainer) -> tuple:
    """The dtype the base layers computed in during the real steps, against the config."""
    want = prepared.stack.compute_dtype
    got = sorted(trainer.observed_compute_dtype - {"unobserved"})
    details = {"expected": want, "observed": got}
    if not got:
        return (WARN, "no LoRA-wrapped layer ran, so the compute dtype was not observed", "", 0.0, details)
    if got != [want]:
        return (FAIL, f"the base layers computed in {', '.join(got)} during the training steps, "
                f"but compute_dtype resolved to {want}",
                "bf16 must come from autocast (SFTConfig bf16) over fp32 trainable tensors", 0.0, details)
    how = "under bf16 autocast" if want == "bfloat16" else "in fp32"
    held = sorted({str(p.dtype).replace("torch.", "") for p in trainable(prepared.stack.model).values()})
    return (PASS, f"base layers computed {how} in the training steps; trainable tensors stay "
            f"{', '.join(held)}", "", 0.0, details)


def run_steps(prepared, trainer, steps: int = 2) -> tuple[Check, Check]:
    """Forward/backward and optimizer steps at the peak LR on real batches, under the
    trainer's own autocast (what `accelerator.prepare` wraps the forward in): did every
    trainable tensor get a gradient, and did every one move?"""
    params = trainable(trainer.model)
    before = {n: p.detach().clone() for n, p in params.items()}
    peak = prepared.schedule.lr_at["peak"]
    stepped = _take_steps(prepared, trainer, params, peak, steps)
    if isinstance(stepped, tuple):
        return stepped
    grad_check, no_grad = _gradient_check(params, stepped, steps)
    return grad_check, _movement_check(params, before, peak, no_grad, steps)


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
    losses, norms = [], []
    loader = iter(trainer.get_train_dataloader())
    for step in range(steps):
        batch = next(loader)
        index = batch["index"].tolist()
        items = trainer._get_num_items_in_batch([batch], trainer.args.device)
        skipped = trainer._nonfinite
        try:
            with trainer.accelerator.autocast():
                loss = trainer.training_step(model, batch, items)
        except RuntimeError as err:
            if "does not require grad" not in str(err):
                raise
            return (Check("", FAIL, f"backward failed: no trainable tensor received a gradient ({err})",
                          "apply LoRA before activation checkpointing, non-reentrant (A3)"),
                    Check("", FAIL, "not run: the backward pass failed"))
        if trainer._nonfinite > skipped:  # the trainer keeps NaN out of its sums; report it here
            trainer._nonfinite = skipped
            loss = torch.tensor(float("nan"))
        losses.append(float(loss))
        if not math.isfinite(float(loss)):
            return (Check("", FAIL, f"non-finite loss {float(loss)} at step {step + 1} on examples {index}",
                          "inspect those examples; lower the LR; never clamp NaN to zero", 0.0,
                          {"losses": [str(x) for x in losses]}),
                    Check("", FAIL, "not run: the forward pass failed"))
        for n, p in params.items():
            if p.grad is not None and torch.count_nonzero(p.grad).item() > 0:
                got_grad[n] = True
        norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), trainer.args.max_grad_norm))
        norms.append(norm)
        if not math.isfinite(norm):
            return (Check("", FAIL, f"non-finite gradient norm at step {step + 1} on examples {index}",
                          "lower the LR; check the data; use fp32 trainable tensors", 0.0,
                          {"losses": losses, "grad_norms": [str(x) for x in norms]}),
                    Check("", FAIL, "not run: the backward pass failed"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"losses": losses, "grad_norms": norms, "got_grad": got_grad}


def _gradient_check(params: dict, stepped: dict, steps: int) -> tuple[Check, list[str]]:
    """LoRA B starts at zero, so A's first gradient is zero: judged per module, over the steps."""
    got_grad, losses, norms = stepped["got_grad"], stepped["losses"], stepped["grad_norms"]
    lora_ok = {pair for pair in _lora_pairs(params) if any(
        got_grad[n] for n in params if "lora_" in n
        and n.replace("lora_A", "lora_*").replace("lora_B", "lora_*") == pair)}
    no_grad = [n for n in params if not got_grad[n] and not (
        "lora_" in n and n.replace("lora_A", "lora_*").replace("lora_B", "lora_*") in lora_ok)]
    details = {"losses": losses, "grad_norms": norms, "steps": steps}
    if no_grad:
        return (Check("", FAIL, f"{len(no_grad)} of {len(params)} trainable tensors received no gradient "
                      f"in {steps} steps (e.g. {no_grad[0]})",
                      "apply LoRA before activation checkpointing, non-reentrant (A3)", 0.0, details), no_grad)
    return (Check("", PASS, f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, grad norm "
                  f"{norms[0]:.3g}; every trainable tensor got a gradient", "", 0.0, details), no_grad)


def _movement_check(params: dict, before: dict, peak: float, no_grad: list[str], steps: int) -> Check:
    """Adam-like steps move every element that has a gradient; below half of them means
    rounding (low precision) or no gradient, and none at all means the tensor is frozen."""
    moved = {n: float((p.detach() != before[n]).float().mean()) for n, p in params.items()}
    low = ("bfloat16", "float16")
    dtype = {n: str(p.dtype).replace("torch.", "") for n, p in params.items()}
    frozen = [n for n, f in moved.items() if f == 0.0 or (f < MOVED_FRACTION and dtype[n] in low)]
    sparse = [n for n, f in moved.items() if 0.0 < f < MOVED_FRACTION and n not in frozen]
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
        return Check("", FAIL, f"{len(frozen)} of {len(params)} trainable tensors (almost) did not "
                     f"move after {steps} optimizer steps at the peak LR {peak:.3g} (e.g. {name}, "
                     f"{moved[name]:.1%} of elements changed): {cause}",
                     "keep trainable tensors fp32 and use a learning rate in the optimizer's range",
                     0.0, details)
    if sparse:
        return Check("", WARN, f"{len(sparse)} trainable tensors changed in under "
                     f"{MOVED_FRACTION:.0%} of their elements (e.g. {sparse[0]}); {summary}",
                     "check their gradients and the LR", 0.0, details)
    return Check("", PASS, f"every trainable tensor moved at LR {peak:.3g}; {summary}", "", 0.0, details)


def check_eval_path(prepared, trainer, examples: int = 2) -> tuple:
    """Eval loss, generation with the training prompt builder, repair, Smatch."""
    from dataclasses import replace

    from visempar.eval.generate import dev_smatch

    cfg = prepared.config
    metrics = trainer.evaluate()
    eval_loss = metrics.get("eval_loss")
    if eval_loss is None or not math.isfinite(eval_loss):
        return (FAIL, f"eval loss is {eval_loss}", "check the eval data", 0.0, metrics)
    dev = dev_smatch(trainer.model, prepared.stack.tokenizer, prepared.builder,
                     prepared.eval.examples[:examples], budget=replace(prepared.budget, cap=min(prepared.budget.cap, 64)),
                    
                     batch_size=examples, concepts=cfg.concepts, compute_dtype=prepared.stack.compute_dtype)
    return (PASS, f"eval loss {eval_loss:.4f}; generated {len(dev['generations'])} graphs "
            f"({', '.join(dev['paths'])}), Smatch F1 {dev['f1']:.3f}", "", 0.0,
            {"eval_loss": eval_loss, "generations": dev["generations"], "smatch_f1": dev["f1"]})


# -- the whole run --------------------------------------------------------------------------

def _rng_state():
    import numpy as np
    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _rng_equal(a, b) -> bool:
    import numpy as np
    import torch

    return (a[0] == b[0] and a[1][0] == b[1][0] and bool(np.array_equal(a[1][1], b[1][1]))
            and a[1][2:] == b[1][2:] and torch.equal(a[2], b[2]))


def _set_rng_state(state) -> None:
    import numpy as np
    import torch

    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


def preflight(config, *, prepared=None, log: Callable = print, batches: int = 2,
              make_trainer_fn=None) -> tuple[Report, object]:
    """Run every check; returns the report and the prepared stack (for `train` to reuse).
    Config-only checks come first, then the build, then checks of the built stack, then
    real steps, after which the trainable weights and RNG states are put back."""
    start = time.perf_counter()
    pf = Preflight(log)
    env = pf.run("env.stack", lambda: check_environment(config))
    lr = pf.run("config.lr", lambda: check_learning_rate(config))
    p = _build(pf, config, prepared, log) if FAIL not in (env.status, lr.status) else None
    if p is None:
        return Report(pf.checks, time.perf_counter() - start), None
    pf.run("config.schedule", lambda: check_schedule(config, p.schedule))
    pf.run("data.lengths", lambda: check_lengths(p))
    pf.run("data.overlap", lambda: check_overlap(p))
    pf.run("data.prompt", lambda: check_prompt_consistency(p))
    pf.run("model.dtypes", lambda: check_dtypes(p))
    pf.run("model.lora", lambda: check_lora(p))
    pf.run("model.checkpointing", lambda: check_checkpointing(p))
    _trainer_checks(pf, config, p, batches, make_trainer_fn)
    return Report(pf.checks, time.perf_counter() - start), p


def _build(pf: Preflight, config, prepared, log):
    """The prepared stack, or None with the failure filed under the check its cause names."""
    from visempar.config import ConfigError
    from visempar.data.encode import TruncationError
    from visempar.model.build import describe_4bit
    from visempar.model.resolve import ModelSourceError
    from visempar.train.run import prepare

    start = time.perf_counter()
    try:
        p = prepared or prepare(config, log=log)
    except ModelSourceError as err:
        check = Check("model.source", FAIL, str(err), "point --model at one of the choices named above")
    except TruncationError as err:
        check = Check("data.lengths", FAIL, str(err), "raise max_length, or set on_truncation: exclude")
    except ConfigError as err:
        check = Check("config.keys", FAIL, str(err), "fix the config named above")
    except VisemparError as err:
        check = Check("build", FAIL, str(err), "fix the file named above")
    except Exception as err:  # a library's own error while loading: reported, not raised
        check = failure(err)
        check.id, check.fix = "build", "fix the config or data named above"
    else:
        base = describe_4bit(p.stack.model) or f"{p.stack.compute_dtype} base"
        check = Check("build", PASS, f"model {p.stack.model_path} ({base}), {len(p.train.rows)} train / "
                      f"{len(p.eval.rows)} eval examples", "", 0.0, {"quantized": p.stack.quantized, "base": base})
    pf.add(check.id, check, seconds=time.perf_counter() - start)
    return p if check.status == PASS else None


def _trainer_checks(pf: Preflight, config, p, batches: int, make_trainer_fn) -> None:
    """Label mask, real steps, precision and the evaluation path on a trainer of the real
    stack; afterwards its trainable weights and the RNG states are put back, and checked."""
    import torch

    from visempar.train.health import HealthMonitor
    from visempar.train.trainer import make_trainer

    model = p.stack.model
    saved = {n: t.detach().clone() for n, t in trainable(model).items()}
    rng = _rng_state()
    tmp = tempfile.TemporaryDirectory(prefix="visempar-preflight-")
    trainer = None
    try:
        monitor = HealthMonitor(config.max_bad_steps, 0, log=lambda *_: None)
        untracked = dataclasses.replace(config, report_to="none")  # preflight is not the run
        trainer = (make_trainer_fn or make_trainer)(
            untracked, p.stack, p.train.rows[: config.per_device_train_batch_size * batches],
            p.eval.rows[: max(2, config.per_device_eval_batch_size)], p.schedule, Path(tmp.name), monitor)
        pf.run("data.mask", lambda: check_label_mask(p, trainer))
        start = time.perf_counter()
        stepped = attempt(lambda: run_steps(p, trainer, batches))
        grad, move = stepped if isinstance(stepped, tuple) else (stepped, None)
        pf.add("train.backward", grad, "see the reason", time.perf_counter() - start)
        if move is not None:
            pf.add("train.movement", move, seconds=0.0)
            pf.run("train.precision", lambda: check_precision(p, trainer))
        pf.run("eval.path", lambda: check_eval_path(p, trainer),
               "fix the evaluation code now: it would have crashed at the first evaluation (B1)")
    finally:
        if trainer is not None:
            trainer.close()
        with torch.no_grad():
            for n, t in trainable(model).items():
                t.copy_(saved[n])
                t.grad = None
        _set_rng_state(rng)
        tmp.cleanup()
    weights = all(bool((t.detach() == saved[n]).all()) for n, t in trainable(model).items())
    states = _rng_equal(rng, _rng_state())
    problems = [what for what, ok in (("trainable weights differ", weights), ("an RNG state differs", states))
                if not ok]
    pf.add("state.restored", Check("", FAIL, "after preflight: " + " and ".join(problems)) if problems else
           Check("", PASS, "trainable weights and the Python, NumPy and torch CPU RNG states restored"))
