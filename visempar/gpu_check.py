"""The CUDA path, proven whole on a GPU machine: `scripts/gpu-check.sh`.

On the tiny model (built there, offline), for both variants, and on a tiny random Qwen3
with a thinking chat template and the Qwen3 config's settings: preflight, a short
`visempar train` with a 4-bit NF4 base and bf16 compute, then predict and evaluate. Every
assertion reads the built objects, never the config: `Linear4bit` layers in the model,
trainable tensors fp32 after TRL's cast, the dtype the base layers computed in, finite
losses, every LoRA tensor moved. Figures (tokens/s, peak GPU memory) and the assertions go
to one JSON report. Without CUDA it refuses (exit 2) unless `--allow-cpu`, which runs the
same steps on CPU, the 4-bit ones included where bitsandbytes has CPU kernels; only what
needs CUDA itself (the device, its memory) is reported as skipped: how the tests exercise it.

    python -m visempar.gpu_check --out gpu-report.json [--steps 20] [--allow-cpu]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from visempar.reports import write_atomic

NO_CUDA = 2


class Assertions:
    """Named pass/fail/skip results, in order."""

    def __init__(self):
        self.rows: list[dict] = []

    def check(self, name: str, ok: bool | None, detail: str) -> None:
        status = "skip" if ok is None else ("pass" if ok else "fail")
        self.rows.append({"name": name, "status": status, "detail": detail})
        print(f"  {status:<4} {name}: {detail}", flush=True)

    @property
    def failed(self) -> list[str]:
        return [r["name"] for r in self.rows if r["status"] == "fail"]


def environment() -> dict:
    import torch

    from visempar.preflight.config_checks import package_versions

    versions = package_versions()
    cuda = torch.cuda.is_available()
    return {"python": sys.version.split()[0], "versions": versions, "cuda": cuda,
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "cuda_version": torch.version.cuda, "bf16": cuda and torch.cuda.is_bf16_supported()}


def _check_built_stack(asserts: Assertions, label: str, stack, trainers: list, four_bit: bool) -> dict:
    """What preflight built, read off the objects: 4-bit layers, fp32 trainable tensors
    after TRL's cast, the dtype the base layers computed in."""
    import torch

    from visempar.model.build import cpu_4bit_problem, linear4bit_layers
    from visempar.preflight.model_checks import trainable

    n4 = len(linear4bit_layers(stack.model))
    asserts.check(f"{label}.linear4bit", (n4 > 0) if four_bit else None,
                  f"{n4} bitsandbytes Linear4bit layers in the built model" if four_bit
                  else f"no CUDA and {cpu_4bit_problem()}")
    dtypes = sorted({str(p.dtype) for p in trainable(stack.model).values()})
    asserts.check(f"{label}.trainable_fp32_after_trl", dtypes == ["torch.float32"] and bool(trainers),
                  f"trainable tensors after the SFTTrainer was built: {dtypes}")
    observed = sorted(trainers[0].observed_compute_dtype) if trainers else []
    want = "bfloat16" if torch.cuda.is_available() else stack.compute_dtype
    asserts.check(f"{label}.compute_dtype", observed == [want],
                  f"base layers computed in {observed} in the preflight steps (expected {want})")
    return {"linear4bit_layers": n4, "observed_compute_dtype": observed}


def check_variant(variant: str, model: str, out: Path, steps: int, asserts: Assertions, *,
                  label: str | None = None, settings: dict | None = None) -> dict:
    """Preflight, train, predict and evaluate one variant (named `label` in the report,
    with config `settings` on top); returns its figures."""
    import torch

    from visempar.amr.io import read_corpus
    from visempar.data.corpus import sample_path
    from visempar.infer.load import load_run
    from visempar.infer.predict import evaluate_run
    from visempar.preflight.run import preflight
    from visempar.config import load_config
    from visempar.train.run import train
    from visempar.train.trainer import make_trainer

    from visempar.model.build import cpu_4bit_problem

    cuda = torch.cuda.is_available()
    four_bit = cuda or cpu_4bit_problem() is None  # bitsandbytes' CPU kernels run it too
    variant_label = label or variant
    config = load_config(f"tiny-{variant}", {
        "model": model, "compute_dtype": "auto", "load_in_4bit": "true" if four_bit else "false",
        "max_steps": steps, "eval_steps": max(steps // 2, 1), "save_steps": max(steps // 2, 1),
        "output_dir": str(out / variant_label), **(settings or {})})
    seen_trainers = []

    def keep_trainer(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        seen_trainers.append(trainer)
        return trainer

    report, prepared = preflight(config, log=lambda *_: None, make_trainer_fn=keep_trainer)
    print(report.table(), flush=True)
    asserts.check(f"{variant_label}.preflight", not report.failed(), f"{len(report.checks)} checks, "
                  f"failed: {[c.id for c in report.failed()] or 'none'}")
    if prepared is None:
        return {"preflight": report.to_dict()}
    built = _check_built_stack(asserts, variant_label, prepared.stack, seen_trainers, four_bit)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    summary = train(config, prepared=prepared, overwrite=True, log=lambda m: print(f"    {m}", flush=True))
    runtime = summary.get("train_runtime_metrics") or {}
    tokens_per_s = summary["tokens_seen"] / summary["train_seconds"] if summary["train_seconds"] else 0.0
    finite = summary["last_loss"] is not None and math.isfinite(summary["last_loss"])
    asserts.check(f"{variant_label}.train", summary["status"] == "completed" and finite
                  and not summary["health"]["skipped_steps"],
                  f"{summary['status']}, loss {summary['first_loss']} -> {summary['last_loss']}, "
                  f"{summary['health']['skipped_steps']} skipped steps")
    peak_train = torch.cuda.max_memory_allocated() / 2**30 if cuda else None

    moved_report = report.get("train.movement")
    moved = moved_report is not None and moved_report.status == "pass"  # every tensor moved
    asserts.check(f"{variant_label}.lora_moved", moved,
                  moved_report.reason if moved_report is not None else "train.movement did not run")

    loaded = load_run(out / variant_label)
    start = time.perf_counter()
    scored, _ = evaluate_run(loaded, read_corpus(sample_path("test")), out / variant_label / "eval", restarts=1)
    eval_s = time.perf_counter() - start
    generated = scored["generation"]
    asserts.check(f"{variant_label}.evaluate", 0.0 <= scored["f1"] <= 1.0 and generated["sentences"] > 0,
                  f"Smatch F1 {scored['f1']:.3f} on {generated['sentences']} sample test sentences, "
                  f"needed repair {generated.get('needed_repair')}, {eval_s:.1f} s")
    return {"preflight": report.to_dict(), "summary": {k: summary[k] for k in (
                "status", "steps", "first_loss", "last_loss", "train_seconds", "tokens_seen", "kept")},
            "train_runtime": runtime, "tokens_per_second": round(tokens_per_s, 1),
            "peak_gpu_memory_gib_train": round(peak_train, 3) if peak_train is not None else None,
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None,
            "evaluate_seconds": round(eval_s, 2), "smatch_f1": scored["f1"], "generation": generated,
            **built}


def qwen3_settings() -> dict:
    """The Qwen3 case: the bundled qwen3-14b-qlora's LoRA targets and thinking switch on the
    tiny Qwen3 (a random Qwen3 with a thinking template, `visempar.model.tiny.tiny_qwen3`)."""
    from visempar.config import load_config

    bundled = load_config("qwen3-14b-qlora")
    return {"lora_target_modules": bundled.lora_target_modules, "enable_thinking": bundled.enable_thinking}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="gpu-check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="gpu-report.json", help="The JSON report.")
    ap.add_argument("--steps", type=int, default=20, help="Optimizer steps per variant.")
    ap.add_argument("--allow-cpu", action="store_true",
                    help="Run the steps without CUDA (CUDA-only assertions are skipped).")
    args = ap.parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("gpu-check: no CUDA device (torch.cuda.is_available() is False): this check proves "
              "the 4-bit + bf16 path and needs a GPU", file=sys.stderr)
        return NO_CUDA
    from visempar.model.tiny import tiny_model_path, tiny_qwen3
    from visempar.quiet import silence_known_noise

    silence_known_noise()
    env = environment()
    print(f"gpu-check on {env['device']} (CUDA {env['cuda_version']}), python {env['python']}, "
          + ", ".join(f"{k} {v}" for k, v in env["versions"].items()), flush=True)
    asserts = Assertions()
    figures = {}
    with tempfile.TemporaryDirectory(prefix="visempar-gpu-check-") as tmp:
        start = time.perf_counter()
        model = str(tiny_model_path())
        figures["tiny_model_build_seconds"] = round(time.perf_counter() - start, 1)
        cases = [("baseline", model, "baseline", None), ("mtup", model, "mtup", None),
                 ("qwen3", None, "baseline", qwen3_settings())]
        for label, base, variant, settings in cases:
            print(f"== {label}", flush=True)
            try:
                base = base or str(tiny_qwen3(model, Path(tmp) / "tiny-qwen3"))
                figures[label] = check_variant(variant, base, Path(tmp), args.steps, asserts,
                                               label=label, settings=settings)
            except Exception as err:  # report what broke, and go on with the other cases
                asserts.check(f"{label}.crashed", False, f"{type(err).__name__}: {err}")
    report = {"environment": env, "assertions": asserts.rows, "failed": asserts.failed,
              "figures": figures}
    write_atomic(args.out, json.dumps(report, indent=2, default=str) + "\n")
    print(f"gpu-check: {len(asserts.rows) - len(asserts.failed)} of {len(asserts.rows)} assertions "
          f"passed or skipped; report in {args.out}", flush=True)
    return 1 if asserts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
