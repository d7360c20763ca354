"""A run's LoRA adapter merged into its unquantised base, as peft merges it, without peft.

Inference merges the adapter once, so loading it through peft (importing peft, wrapping
every linear layer, then unwrapping them) is time a user waits for at every `predict`:
about 2.5 s of a CPU start-up of 6.5 s for SmolLM2. `merge_lora` does peft's arithmetic
for a plain LoRA adapter, `W += (B @ A) * alpha / r` in the base's fp32, on the same
tensors in the same order, so the merged weights are peft's to the bit
(`tests/test_decode.py` compares them). An adapter of another kind (DoRA, rsLoRA, ranks
or alphas per module, biases, saved modules) returns False, and the caller uses peft.
"""

from __future__ import annotations

import json
from pathlib import Path

_PLAIN = {"peft_type": "LORA", "use_dora": False, "use_rslora": False, "fan_in_fan_out": False,
          "lora_bias": False, "bias": "none", "modules_to_save": None, "rank_pattern": {}, "alpha_pattern": {},
          "layers_to_transform": None, "trainable_token_indices": None}
_PREFIX = "base_model.model."


def plain_lora(adapter: Path) -> dict | None:
    """The adapter's config when it is a plain LoRA adapter this module merges; else None."""
    try:
        config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key, default in _PLAIN.items():
        value = config.get(key, default)
        if value != default and (value or default):  # an empty setting ({} or None) is the default
            return None
    return config if (adapter / "adapter_model.safetensors").exists() else None


def merge_lora(model, adapter: Path) -> bool:
    """Merge the plain LoRA adapter in folder `adapter` into `model` (unquantised, fp32)
    in place; False, with `model` untouched, for an adapter this module does not merge."""
    import torch
    from safetensors.torch import load_file

    config = plain_lora(adapter)
    if config is None:
        return False
    scaling = config["lora_alpha"] / config["r"]
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        if not key.startswith(_PREFIX) or not key.endswith((".lora_A.weight", ".lora_B.weight")):
            return False
        module, part = key[len(_PREFIX):].rsplit(".", 2)[0], key.rsplit(".", 2)[1]
        pairs.setdefault(module, {})[part] = tensor
    targets = {}
    for module, both in pairs.items():
        layer = model.get_submodule(module)
        if set(both) != {"lora_A", "lora_B"} or not isinstance(layer, torch.nn.Linear) \
                or layer.weight.dtype != torch.float32:
            return False
        targets[module] = layer
    with torch.no_grad():
        for module, layer in targets.items():
            delta = (pairs[module]["lora_B"] @ pairs[module]["lora_A"]) * scaling
            layer.weight.data = layer.weight.data + delta  # a new tensor: adding in place into the
            # memory-mapped checkpoint faulted its pages in one by one (1.2 s for SmolLM2)
    return True
