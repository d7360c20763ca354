"""Where and in what precision a run computes: CUDA or CPU, bf16 or fp32, CPU threads.

`compute_dtype: auto` means bf16 autocast over fp32 trainable tensors wherever the
hardware does bf16 matrix work natively (CUDA with bf16; CPUs with AVX512-BF16 or AMX),
fp32 elsewhere. Autocast keeps the master weights fp32, so bf16 rounding never freezes an
adapter (failure mode A1). The tiny model's configs pin fp32 and one thread, so its
figures stay comparable with earlier runs.
"""

from __future__ import annotations

import os


def cpu_bf16_native() -> bool:
    """True where this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX)."""
    import torch

    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None:
            try:
                if fn():
                    return True
            except RuntimeError:
                pass
    return False


def cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def compute_dtype(setting: str = "auto") -> str:
    """The compute dtype a `compute_dtype` setting means on this machine."""
    import torch

    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "bfloat16" if cuda_bf16() else "float32"
    return "bfloat16" if cpu_bf16_native() else "float32"


def describe(setting: str) -> str:
    """One line for reports: the device and what the compute dtype setting resolved to."""
    import torch

    dtype = compute_dtype(setting)
    how = "bf16 autocast, fp32 trainable tensors" if dtype == "bfloat16" else "fp32"
    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}, {how} (compute_dtype: {setting})"
    native = "native bf16" if cpu_bf16_native() else "no native bf16"
    threads = torch.get_num_threads()
    return (f"CPU, {threads} thread{'s' if threads != 1 else ''}, {native}, {how} "
            f"(compute_dtype: {setting})")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_threads(cpu_threads: int) -> int:
    """Intra-op threads on CPU: `cpu_threads`, or when 0, OMP_NUM_THREADS if set, else
    every core this process may use. Returns the number set (0 on CUDA, where it is left)."""
    import torch

    if torch.cuda.is_available():
        return 0
    if cpu_threads <= 0:
        env = os.environ.get("OMP_NUM_THREADS", "")
        cpu_threads = int(env) if env.isdigit() and int(env) > 0 else available_cores()
    torch.set_num_threads(cpu_threads)
    return cpu_threads


UNOBSERVED = "unobserved"  # what a step records when no LoRA-wrapped layer ran


def dtype_names(dtypes) -> str:
    """The dtypes a message names (`bfloat16, float32`), in one order everywhere."""
    return ", ".join(sorted(dtypes))


class ComputeDtypeProbe:
    """Records the dtype the first LoRA-wrapped linear's base layer computes in: proof,
    from the running model, that autocast (or the quantised compute dtype) is in effect."""

    def __init__(self, model):
        self.seen: set[str] = set()
        self._hook = None
        for module in model.modules():
            base = getattr(module, "base_layer", None)
            if base is not None and hasattr(module, "lora_A"):
                self._hook = base.register_forward_hook(self._record)
                break

    def _record(self, module, args, output) -> None:
        # a 4-bit layer computes in its compute dtype and casts back to the input's
        dtype = getattr(module, "compute_dtype", None) if hasattr(module, "compute_type_is_set") else None
        self.seen.add(str(dtype or output.dtype).replace("torch.", ""))

    def remove(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
