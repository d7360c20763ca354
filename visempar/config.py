"""A training config is data: a dataclass read from YAML, overridden by CLI flags.

Unknown keys are an error naming the key (and the nearest known one), values are checked
before anything is built, and the resolved config has a hash, so a resumed run can prove
it continues under the same settings (failure mode B3).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from visempar.data.prompts import GRAPH_FORMATS, PROMPT_STYLES, VARIANTS
from visempar.errors import VisemparError
from visempar.passes import KEYS, NO_PASSES, PassError, Passes
from visempar.reports import write_atomic

CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # package data: ships in the wheel
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd")
SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


class ConfigError(VisemparError, ValueError):
    """A config that cannot be used; the message names the file and key."""


@dataclass
class TrainConfig:
    """Everything a run depends on. Paths are kept as given; `None` means the sample."""

    model: str = "tiny"
    variant: str = "baseline"
    train_data: str | None = None
    eval_data: str | None = None
    output_dir: str | None = None
    seed: int = 0
    # data
    max_length: int = 512
    on_truncation: str = "exclude"
    graph_style: str = "oneline"
    graph_format: str = "penman"  # baseline only: penman, varfree or varfree-concepts (restored after decoding)
    prompt_style: str = "chat"  # chat: instruction + chat template; short: sentence + marker line
    enable_thinking: bool | None = None  # passed to chat templates that take it (Qwen3); None: not passed
    concepts: str = "space"
    # model
    load_in_4bit: str = "auto"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "all-linear"
    adapter_dtype: str = "float32"
    activation_checkpointing: bool = True
    compute_dtype: str = "auto"
    loss_head: str = "auto"
    cpu_threads: int = 0
    # optimisation
    optimizer: str = "adamw_torch"
    learning_rate: float = 2e-4
    lr_scheduler: str = "cosine"
    warmup: float = 0.1
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 8
    group_by_length: bool = False
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    # bookkeeping
    logging_steps: int = 5
    save_steps: int = 50
    save_total_limit: int = 2
    eval_steps: int = 0
    per_device_eval_batch_size: int = 8
    select_best: str = "eval_loss"
    dev_smatch_examples: int = 16
    # health
    max_bad_steps: int = 3
    stall_check_steps: int = 10
    # generation (evaluation path)
    max_new_tokens: int | str = "auto"  # auto: fitted per sentence on the training data
    generation_batch_size: int = 16
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    input_normalization: str = "spaces"
    # the passes after decoding, pass key -> value (`visempar.passes.PASSES`); all off by default
    passes: dict[str, str] = field(default_factory=lambda: NO_PASSES.to_dict())
    # experiment tracking: none, or trackers separated by commas (tensorboard, wandb, mlflow, trackio)
    report_to: str = "none"
    tags: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """A stable hash of the settings that determine the training trajectory."""
        payload = {k: v for k, v in self.to_dict().items() if k not in VOLATILE_KEYS}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def diff(self, other: TrainConfig) -> list[str]:
        """`key: old -> new` for each trajectory setting that differs from `other`."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k}: {theirs[k]!r} -> {mine[k]!r}" for k in mine
                if k not in VOLATILE_KEYS and mine[k] != theirs[k]]


# Settings that may change between an interrupted run and its resumption.
VOLATILE_KEYS = frozenset({"output_dir", "cpu_threads", "logging_steps", "save_steps", "save_total_limit",
                           "select_best", "dev_smatch_examples",
                           "generation_batch_size", "per_device_eval_batch_size", "report_to", "tags"})
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}

_CHOICES = {
    "variant": VARIANTS, "graph_format": GRAPH_FORMATS, "prompt_style": PROMPT_STYLES,
    "on_truncation": ("exclude", "refuse"), "graph_style": ("oneline", "vlsp"),
    "concepts": ("space", "underscore"), "load_in_4bit": ("auto", "true", "false"),
    "adapter_dtype": ("float32", "bfloat16"), "compute_dtype": ("auto", "float32", "bfloat16"),
    "loss_head": ("auto", "fused", "logits"),
    "select_best": ("eval_loss", "smatch", "last"),
    "optimizer": OPTIMIZERS,
    "lr_scheduler": SCHEDULERS, "input_normalization": ("none", "spaces", "lower"),
}
# configs written before the passes had a mapping of their own held each as a key of its own
LEGACY_PASS_OFF = {"surplus_words": "keep"}
_POSITIVE = ("max_length", "lora_r", "lora_alpha", "per_device_train_batch_size",
             "gradient_accumulation_steps", "logging_steps", "save_steps", "save_total_limit", "max_bad_steps",
             "generation_batch_size", "per_device_eval_batch_size", "num_beams")


_AT_MOST = {"max_length": 131_072, "lora_r": 4096, "lora_alpha": 65_536, "per_device_train_batch_size": 4096,
            "gradient_accumulation_steps": 4096, "num_train_epochs": 1000, "max_steps": 10_000_000,
            "generation_batch_size": 1024, "per_device_eval_batch_size": 4096, "num_beams": 64,
            "max_new_tokens": 32_768, "dev_smatch_examples": 100_000, "logging_steps": 10_000_000,
            "save_steps": 10_000_000, "eval_steps": 10_000_000, "save_total_limit": 10_000,
            "cpu_threads": 4096, "max_bad_steps": 100_000, "stall_check_steps": 10_000_000}


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    kind = type(default)
    if name == "lora_target_modules":
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return value
        raise ConfigError(f"{where}: {name} must be 'all-linear' or a list of module names")
    if name == "max_new_tokens":
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return value
        if isinstance(value, str) and value.isdigit() and int(value) > 0:
            return int(value)
        raise ConfigError(f"{where}: {name} must be 'auto' or a positive number of tokens, got {value!r}")
    if name == "enable_thinking":
        if value in (None, "", "null", "none"):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{where}: {name} must be true, false or null, got {value!r}")
    if name == "load_in_4bit" and isinstance(value, bool):
        return "true" if value else "false"
    if default is None:
        return None if value in (None, "", "null") else str(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is int and not isinstance(value, bool):
        try:
            if float(value) == int(float(value)):
                return int(float(value))
        except (TypeError, ValueError):
            pass
    elif kind is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    elif kind is str:
        return str(value)
    elif name == "passes":
        return _coerce_passes(value, where)
    elif kind is dict and isinstance(value, dict):
        return value
    raise ConfigError(f"{where}: {name} must be {kind.__name__}, got {value!r}")


def _coerce_passes(value: Any, where: str) -> dict[str, str]:
    """A `passes` mapping with every pass, off unless set; unknown passes and values refused."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: passes must be a mapping of pass to value ({', '.join(KEYS)}), got {value!r}")
    try:
        settings = {str(k): "none" if LEGACY_PASS_OFF.get(str(k)) == v else v for k, v in value.items()}
        return Passes(**settings).to_dict()
    except PassError as e:
        raise ConfigError(f"{where}: passes: {e}") from None


def validate(config: TrainConfig, where: str = "config", lines: dict[str, int] | None = None) -> TrainConfig:
    """`config` if every value is usable; else a ConfigError naming the file, line and key."""
    at = lambda key: f"{where}{_line(lines or {}, key)}"  # noqa: E731
    for name, choices in _CHOICES.items():
        if getattr(config, name) not in choices:
            raise ConfigError(f"{at(name)}: {name} must be one of {', '.join(choices)}, "
                              f"got {getattr(config, name)!r}")
    for name in _POSITIVE:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{at(name)}: {name} must be positive, got {getattr(config, name)!r}")
    for name, most in _AT_MOST.items():
        value = getattr(config, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > most:
            raise ConfigError(f"{at(name)}: {name} must be at most {most:,} (more would run for days or exhaust "
                              f"memory), got {value!r}")
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{at(f.name)}: {f.name} must be a finite number, got {value!r}")
    for name in ("weight_decay", "max_grad_norm", "num_train_epochs"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{at(name)}: {name} must not be negative, got {getattr(config, name)!r}")
    if config.temperature <= 0 or not 0 < config.top_p <= 1:
        name = "temperature" if config.temperature <= 0 else "top_p"
        raise ConfigError(f"{at(name)}: temperature must be positive and top_p in (0, 1], "
                          f"got {config.temperature!r} and {config.top_p!r}")
    if config.max_steps < -1:
        raise ConfigError(f"{at('max_steps')}: max_steps is a number of optimizer steps, or 0 or -1 to "
                          f"train num_train_epochs, got {config.max_steps!r}")
    for name in ("eval_steps", "stall_check_steps", "dev_smatch_examples", "seed"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{at(name)}: {name} must not be negative, got {getattr(config, name)!r}")
    if not 0 < config.learning_rate < 1:
        raise ConfigError(f"{at('learning_rate')}: learning_rate must be in (0, 1), got {config.learning_rate!r}")
    if config.warmup < 0 or (config.warmup >= 1 and config.warmup != int(config.warmup)):
        raise ConfigError(f"{at('warmup')}: warmup is a ratio in [0, 1) or a whole number of optimizer "
                          f"steps, got {config.warmup!r}")
    if config.eval_steps > 0 and config.select_best != "last" and config.save_steps % config.eval_steps:
        raise ConfigError(f"{at('select_best')}: select_best: {config.select_best} keeps the best evaluated "
                          f"checkpoint, so save_steps ({config.save_steps}) must be a multiple of "
                          f"eval_steps ({config.eval_steps})")
    if config.select_best == "smatch" and config.dev_smatch_examples <= 0:
        raise ConfigError(f"{at('select_best')}: select_best: smatch needs dev_smatch_examples > 0")
    if config.cpu_threads < 0:
        raise ConfigError(f"{at('cpu_threads')}: cpu_threads is a number of threads, or 0 for every core, "
                          f"got {config.cpu_threads!r}")
    if not 0 <= config.lora_dropout < 1:
        raise ConfigError(f"{at('lora_dropout')}: lora_dropout must be in [0, 1), got {config.lora_dropout!r}")
    for tracker in trackers(config):
        if tracker not in TRACKERS:
            raise ConfigError(f"{at('report_to')}: report_to must be none or some of "
                              f"{', '.join(TRACKERS)}, got {tracker!r}")
        if importlib.util.find_spec(TRACKERS[tracker]) is None:
            raise ConfigError(f"{at('report_to')}: report_to: {tracker} needs the `{TRACKERS[tracker]}` "
                              f"package, which is not installed (pip install {TRACKERS[tracker]})")
    if config.max_steps <= 0 and config.num_train_epochs <= 0:
        raise ConfigError(f"{at('num_train_epochs')}: set num_train_epochs > 0 or max_steps > 0")
    return config


def trackers(config: TrainConfig) -> list[str]:
    """The experiment trackers `report_to` names (none for `none`)."""
    names = [t.strip() for t in str(config.report_to).split(",") if t.strip()]
    return [] if names in ([], ["none"]) else names


def from_mapping(values: dict[str, Any], where: str = "config",
                 base: TrainConfig | None = None, lines: dict[str, int] | None = None) -> TrainConfig:
    """`base` (or the defaults) updated with `values`; unknown keys are an error.

    `lines` maps keys to their line in the file named by `where`, for the messages.
    """
    base = base or TrainConfig()
    lines = lines or {}
    known = {f.name: getattr(base, f.name) for f in fields(TrainConfig)}
    defaults = {f.name: getattr(TrainConfig(), f.name) for f in fields(TrainConfig)}
    legacy = {k: values[k] for k in KEYS if k in values}  # a pass as a key of its own: older configs, --set
    if legacy:
        values = {k: v for k, v in values.items() if k not in legacy}
        values["passes"] = {**known["passes"], **values.get("passes", {}), **legacy}
        lines = {"passes": lines[next(iter(legacy))], **lines} if next(iter(legacy)) in lines else lines
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}{_line(lines, key)}: unknown key {key!r}{hint}")
        known[key] = _coerce(key, value, defaults[key], f"{where}{_line(lines, key)}")
    return validate(TrainConfig(**known), where, lines)


def _line(lines: dict[str, int], key: str) -> str:
    return f":{lines[key]}" if key in lines else ""


BUNDLED_MODELS = ("tiny", "smollm2")


def default_config_name(model: str | None, variant: str | None) -> str | None:
    """`MODEL-VARIANT` among the bundled configs (`visempar/configs/`) for the bundled models (`tiny-baseline`); None for
    any other model, which starts from the defaults."""
    model = model or "tiny"
    return f"{model}-{variant or 'baseline'}" if model in BUNDLED_MODELS else None


def resolve_path(name: str) -> Path:
    """A config file by path, or by name among the bundled configs (`tiny-baseline` works)."""
    path = Path(name)
    if path.exists():
        return path
    for candidate in (CONFIG_DIR / name, CONFIG_DIR / f"{name}.yaml"):
        if candidate.exists():
            return candidate
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config {name!r} not found (a path, or one of: {known})")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file, then the overrides (CLI flags that were given)."""
    config = TrainConfig()
    if path is not None:
        file = resolve_path(str(path))
        try:
            values = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"{file}:{mark.line + 1}" if mark else str(file)
            raise ConfigError(f"{where}: not valid YAML ({getattr(err, 'problem', err)})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{file}: a config is a mapping of keys to values")
        text = file.read_text(encoding="utf-8").splitlines()
        lines = {line.split(":", 1)[0].strip(): n for n, line in enumerate(text, 1)
                 if line[:1].isalpha() and ":" in line}
        config = from_mapping(values, str(file), lines=lines)
    if overrides:
        config = from_mapping({k: v for k, v in overrides.items() if v is not None},
                              "command line", base=config)
    return config


def save_config(config: TrainConfig, path: Path) -> None:
    write_atomic(path, yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True))
