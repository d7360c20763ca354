"""The training stack, built in the one order that works (failure modes A1, A3, A6).

load (4-bit NF4 only when `torch.cuda.is_available()`; compute dtype from
`visempar.model.device`, bf16 autocast over an fp32 base on CPUs with native bf16)
-> prepare for k-bit training when quantised -> LoRA -> activation checkpointing,
non-reentrant. No config key can reorder these steps. Trainable tensors are fp32 unless
the config asks for `adapter_dtype: bfloat16` (what TRL does for QLoRA).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from visempar.train.config import ConfigError, TrainConfig


@dataclass
class Stack:
    """A built model with the facts preflight and the run summary report."""

    model: object
    tokenizer: object
    model_path: str
    quantized: bool
    compute_dtype: str
    steps: list[str] = field(default_factory=list)


def wants_4bit(config: TrainConfig) -> bool:
    """4-bit only where CUDA is: on CPU bitsandbytes loads but breaks after a generate."""
    import torch

    cuda = torch.cuda.is_available()
    if config.load_in_4bit == "true" and not cuda:
        raise ConfigError("load_in_4bit: true needs a CUDA GPU (torch.cuda.is_available() is False); "
                          "use load_in_4bit: auto or false on this machine")
    return cuda and config.load_in_4bit != "false"


def load_dtype(config: TrainConfig) -> str:
    """The dtype of the frozen base: the compute dtype on CUDA; fp32 on CPU, where bf16
    runs under autocast (bf16 weights there were no faster, and they round the merge)."""
    import torch

    from visempar.model.device import compute_dtype

    return compute_dtype(config.compute_dtype) if torch.cuda.is_available() else "float32"


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"model {path}: the tokenizer has no EOS token, so a graph's end "
                          "cannot be supervised")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def load_base(config: TrainConfig, path: str, quantize: bool):
    import os

    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    dtype = getattr(torch, load_dtype(config))
    kwargs: dict = {"dtype": dtype}
    if quantize:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    return AutoModelForCausalLM.from_pretrained(path, **kwargs)


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
    model = load_base(config, path, quantize)
    stack = Stack(model, tokenizer, path, quantize, compute_dtype(config.compute_dtype), ["load"])
    if quantize:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        stack.steps.append("prepare_kbit")
    model = apply_lora(model, config)
    stack.steps.append("lora")
    if config.activation_checkpointing:
        enable_checkpointing(model)
        stack.steps.append("checkpointing")
    stack.model = model
    return stack
