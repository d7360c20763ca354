"""Checks of the built model: trainable dtypes, LoRA and activation checkpointing (A1, A3)."""

from __future__ import annotations

from visempar.preflight.report import Check, fail, ok, warn


def trainable(model) -> dict:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def check_dtypes(prepared) -> Check:
    import torch

    params = trainable(prepared.stack.model)
    low = {n: str(p.dtype).replace("torch.", "") for n, p in params.items()
           if p.dtype in (torch.bfloat16, torch.float16)}
    details = {"trainable_dtypes": sorted({str(p.dtype).replace("torch.", "") for p in params.values()}),
               "low_precision": list(low)[:20]}
    if low:
        return warn(f"{len(low)} of {len(params)} trainable tensors are held in "
                    f"{next(iter(low.values()))}: an update smaller than half a bf16 ulp (2^-9 relative, "
                    "~0.002 at 1.0) rounds away, so small LRs freeze them",
                    "keep trainable tensors fp32 (adapter_dtype: float32); compute in bf16 via autocast",
                    details)
    return ok(f"all {len(params)} trainable tensors are "
              f"{', '.join(details['trainable_dtypes'])}", details)


def check_lora(prepared) -> Check:
    model = prepared.stack.model
    params = trainable(model)
    lora = [n for n in params if "lora_" in n]
    total = sum(p.numel() for p in model.parameters())
    count = sum(p.numel() for p in params.values())
    details = {"trainable_tensors": len(params), "lora_tensors": len(lora),
               "trainable_parameters": count, "all_parameters": total,
               "build_order": prepared.stack.steps}
    if not lora:
        return fail("no LoRA tensor is trainable", "apply LoRA with visempar.model.build", details)
    return ok(f"{len(lora)} LoRA tensors, {count:,} trainable of {total:,} parameters "
              f"({100 * count / total:.2f}%); built {' -> '.join(prepared.stack.steps)}", details)


def checkpointing_mode(model) -> str | None:
    """'non-reentrant', 'reentrant' or None (off), read off the modules that checkpoint."""
    for module in model.modules():
        if getattr(module, "gradient_checkpointing", False):
            func = getattr(module, "_gradient_checkpointing_func", None)
            kwargs = getattr(func, "keywords", {}) or {}
            return "reentrant" if kwargs.get("use_reentrant", True) else "non-reentrant"
    return None


def check_checkpointing(prepared) -> Check:
    import torch

    model = prepared.stack.model
    mode = checkpointing_mode(model)
    if mode is None:
        return ok("activation checkpointing off", {"mode": None})
    if mode == "reentrant":
        emb = model.get_input_embeddings()
        probe = emb(torch.tensor([[0]], device=emb.weight.device))
        if not probe.requires_grad:
            return fail("reentrant activation checkpointing with a frozen embedding whose output does "
                        "not require grad: the checkpointed layers (and their LoRA) get no gradient (A3)",
                        "use non-reentrant checkpointing after LoRA (visempar's builder does)",
                        {"mode": mode})
        return warn("reentrant activation checkpointing (works, with input grads enabled)",
                    "prefer use_reentrant: False", {"mode": mode})
    return ok("non-reentrant activation checkpointing, enabled after LoRA", {"mode": mode})
