"""The training stack, built in the one order that works (failure modes A1, A3, A6).

load (4-bit NF4 with `load_in_4bit: auto` where CUDA is, with `true` on CUDA or on a CPU
that bitsandbytes runs 4-bit on; compute dtype from `visempar.model.device`, bf16 autocast
over an fp32 base on CPUs with native bf16) -> prepare for k-bit training when quantised
-> LoRA -> activation checkpointing, non-reentrant. No config key can reorder these steps.
Trainable tensors are fp32 unless the config asks for `adapter_dtype: bfloat16` (what TRL
does for QLoRA).

Two behaviours of bitsandbytes' `Linear4bit` are switched off on every 4-bit layer
visempar loads (`pin_4bit_layers`), so training, dev evaluation and prediction compute
the same way, in the configured dtype:
- on CPUs with AVX512-BF16 it repacks its weight in place for an inference kernel on the
  first forward without grad in eval mode; the weight is then wrong for training, and
  generation during training fails (`shape '[128, 5]' is invalid`);
- on its first forward it replaces `bnb_4bit_compute_dtype` with the input's dtype, so an
  fp32 base on CPU computes in fp32 whatever the config says (`train.precision` saw it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from visempar.config import ConfigError, TrainConfig


@dataclass
class Stack:
    """A built model with the facts preflight and the run summary report."""

    model: object
    tokenizer: object
    model_path: str
    quantized: bool
    compute_dtype: str
    steps: list[str] = field(default_factory=list)


def cpu_4bit_problem() -> str | None:
    """Why bitsandbytes cannot run 4-bit NF4 on this CPU, or None when it can (probed by
    quantising and dequantising a small matrix)."""
    try:
        import bitsandbytes.functional as F
        import torch

        weight = torch.randn(64, 64)
        packed, state = F.quantize_4bit(weight, quant_type="nf4")
        if not torch.isfinite(F.dequantize_4bit(packed, state)).all():
            return "bitsandbytes' CPU 4-bit round trip gave non-finite values"
    except Exception as e:  # an import error, or a backend without CPU kernels
        return f"bitsandbytes cannot quantise on this CPU ({type(e).__name__}: {e})"
    return None


def wants_4bit(config: TrainConfig) -> bool:
    """`auto`: 4-bit where CUDA is; `true`: 4-bit on CUDA or on a CPU bitsandbytes supports."""
    import torch

    if config.load_in_4bit == "false":
        return False
    if torch.cuda.is_available():
        return True
    if config.load_in_4bit == "auto":
        return False
    problem = cpu_4bit_problem()
    if problem:
        raise ConfigError(f"load_in_4bit: true: no CUDA device and {problem}; install a "
                          "bitsandbytes with CPU support (0.45 or later) or set load_in_4bit: false")
    return True


def load_dtype(compute: str) -> str:
    """The dtype the base loads in: the compute dtype on CUDA; fp32 on CPU, where bf16 runs
    under autocast over fp32 embeddings and norms (the residual stream stays fp32), and
    only the frozen linear weights are then held in bf16 (`hold_frozen_linears`)."""
    import torch

    return compute if torch.cuda.is_available() else "float32"


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"model {path}: the tokenizer has no EOS token, so a graph's end "
                          "cannot be supervised")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def load_base(path: str, quantize: bool, compute: str):
    """The frozen base: fp32 (bf16 on CUDA), or 4-bit NF4 with double quantisation
    computing in `compute` (the compute dtype, resolved once by the caller), on this
    process's GPU or the CPU."""
    import os

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = getattr(torch, load_dtype(compute))
    kwargs: dict = {"dtype": dtype}
    if quantize:
        cuda = torch.cuda.is_available()
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, compute))
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0)) if cuda else "cpu"}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if quantize:
        pin_4bit_layers(model)
    return model


def linear4bit_layers(model) -> list:
    """The bitsandbytes `Linear4bit` layers of `model` (none when bitsandbytes is absent)."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return []
    return [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]


def pin_4bit_layers(model) -> int:
    """Keep every `Linear4bit` in the training layout and its configured compute dtype
    (see the module docstring); returns the number of layers."""
    layers = linear4bit_layers(model)
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
        layer.compute_type_is_set = True
    return len(layers)


def describe_4bit(model) -> str | None:
    """`N Linear4bit layers, nf4, storage uint8, compute bfloat16`, or None if not quantised."""
    layers = linear4bit_layers(model)
    if not layers:
        return None
    state = layers[0].weight.quant_state
    nested = ", double-quantised" if getattr(state, "nested", False) else ""
    compute = str(layers[0].compute_dtype).replace("torch.", "")
    return (f"{len(layers)} Linear4bit layers, {state.quant_type}{nested}, storage "
            f"{str(layers[0].weight.dtype).replace('torch.', '')}, compute {compute}")


def apply_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    if getattr(model, "is_activation_checkpointing", False):
        raise RuntimeError("activation checkpointing was enabled before LoRA; the builder applies "
                           "it after LoRA so that adapters receive gradients (failure mode A3)")
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora, autocast_adapter_dtype=True)
    set_adapter_dtype(model, config.adapter_dtype)
    return model


def set_adapter_dtype(model, dtype_name: str) -> None:
    """Hold every trainable tensor in `dtype_name` (TRL casts QLoRA adapters to bf16)."""
    import torch

    dtype = getattr(torch, dtype_name)
    for param in model.parameters():
        if param.requires_grad and param.dtype != dtype:
            param.data = param.data.to(dtype)


def hold_frozen_linears(model, compute: str) -> int:
    """Hold the frozen weights of every linear layer in the compute dtype (bf16): autocast
    casts an fp32 weight to bf16 on every forward and every recomputation, which was 13%
    of a CPU training step of SmolLM2 (docs/benchmarks.md). The matmuls see the very same
    bf16 values, so losses and gradients do not change. Trainable tensors (the adapters)
    stay as they are, and so does a head tied to the input embeddings, whose fp32 lookups
    keep the residual stream fp32. Returns the number of layers cast."""
    import torch

    if compute != "bfloat16":
        return 0
    tied = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)
              and not m.weight.requires_grad and id(m.weight) not in tied and m.weight.dtype == torch.float32]
    for layer in layers:
        layer.weight.data = layer.weight.data.to(torch.bfloat16)
        if layer.bias is not None and not layer.bias.requires_grad:
            layer.bias.data = layer.bias.data.to(torch.bfloat16)
    return len(layers)


def enable_checkpointing(model) -> None:
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    model.config.use_cache = False


def build_stack(config: TrainConfig) -> Stack:
    """The model and tokenizer `visempar train` trains, preflight checks and predict uses."""
    from peft import prepare_model_for_kbit_training

    from visempar.model.device import compute_dtype
    from visempar.model.resolve import resolve_model

    path = resolve_model(config.model)
    tokenizer = load_tokenizer(path)
    quantize = wants_4bit(config)
    compute = compute_dtype(config.compute_dtype)  # resolved here once, carried on the stack
    model = load_base(path, quantize, compute)
    stack = Stack(model, tokenizer, path, quantize, compute, ["load"])
    if quantize:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        stack.steps.append("prepare_kbit")
    model = apply_lora(model, config)
    stack.steps.append("lora")
    if not quantize and hold_frozen_linears(model, compute):
        stack.steps.append("frozen_bf16")
    if config.activation_checkpointing:
        enable_checkpointing(model)
        stack.steps.append("checkpointing")
    stack.model = model
    return stack
