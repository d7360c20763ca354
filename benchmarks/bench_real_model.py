"""Training throughput on a real model: `visempar train` against a bare LoRA loop, in one process.

For each compute dtype: `visempar train` (the recipe with its monitor; checkpoints and
evaluation off, since they are not training) for N optimizer steps, then a bare loop on the
same model files, the same LoRA, the same batches (the trainer's own dataloader, same
seed) with plain AdamW: forward, backward, step; bf16 by `torch.autocast` over fp32
weights. Tokens are non-padding tokens, counted the same way for both. Two ratios: whole
run (first step included) and the median step after the first, which is steadier on a
shared machine.

    .venv/bin/python benchmarks/bench_real_model.py [--model smollm2] [--steps 6]
"""

import argparse
import json
import resource
import tempfile
import time


class StepTimes:
    """Wall time of each optimizer step inside `visempar train` (a trainer callback)."""

    def __init__(self):
        from transformers import TrainerCallback

        outer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                outer.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                outer.times.append(time.perf_counter() - outer.start)

        self.times: list[float] = []
        self.callback = Callback()


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def bare_loop(config, batches) -> tuple[int, float, list[float]]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from visempar.model.resolve import resolve_model

    model = AutoModelForCausalLM.from_pretrained(resolve_model(config.model), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                             lora_dropout=config.lora_dropout,
                                             target_modules=config.lora_target_modules, task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    tokens, start, times = 0, time.perf_counter(), []
    for batch in batches:
        step_start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.compute_dtype == "bfloat16"):
            loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["labels"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        times.append(time.perf_counter() - step_start)
    return tokens, time.perf_counter() - start, times


def the_batches(config, steps: int) -> list:
    """The first `steps` batches `visempar train` sees (its trainer's dataloader, same seed)."""
    from visempar.train.health import HealthMonitor
    from visempar.train.run import prepare
    from visempar.train.trainer import make_trainer

    prepared = prepare(config, log=lambda *_: None)
    trainer = make_trainer(config, prepared.stack, prepared.train.rows, [], prepared.schedule,
                           tempfile.mkdtemp(), HealthMonitor(3, 0, log=lambda *_: None))
    trainer.close()
    loader = iter(trainer.get_train_dataloader())
    return [next(loader) for _ in range(steps)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--json", help="Write the figures here.")
    ap.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    import torch
    import yaml

    from visempar.model.device import set_threads
    from visempar.config import default_config_name, load_config
    from visempar.train.run import train

    rows = {}
    for dtype in args.dtypes.split(","):
        out = tempfile.mkdtemp()
        overrides = {"model": args.model, "max_steps": args.steps, "output_dir": f"{out}/v",
                     "eval_steps": 0, "save_steps": 10_000, "logging_steps": 1, "compute_dtype": dtype}
        overrides.update({k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.settings)})
        config = load_config(default_config_name(args.model, "baseline"), overrides)
        threads = set_threads(config.cpu_threads)
        steps = StepTimes()
        summary = train(config, log=lambda *_: None, callbacks=[steps.callback])
        records = [json.loads(x) for x in open(f"{out}/v/metrics.jsonl")]
        ours_tokens = int(max(r["num_tokens"] for r in records if "num_tokens" in r))
        ours = ours_tokens / summary["train_seconds"]
        batches = the_batches(config, args.steps)
        bare_tokens, bare_s, bare_times = bare_loop(config, batches)
        bare = bare_tokens / bare_s
        # steady state: the median step after the first, same batches on both sides
        later = slice(1, None)
        steady = median(bare_times[later]) / median(steps.times[later])
        rows[dtype] = {"visempar_tokens": ours_tokens, "visempar_seconds": summary["train_seconds"],
                       "visempar_tokens_per_s": round(ours, 1), "bare_tokens": bare_tokens,
                       "bare_seconds": round(bare_s, 2), "bare_tokens_per_s": round(bare, 1),
                       "ratio": round(ours / bare, 3),
                       "visempar_step_seconds": [round(t, 2) for t in steps.times],
                       "bare_step_seconds": [round(t, 2) for t in bare_times],
                       "steady_ratio": round(steady, 3)}
        print(f"{dtype:>9}: visempar train {ours_tokens} tokens in {summary['train_seconds']:.1f} s -> "
              f"{ours:.1f} tokens/s | bare loop {bare_tokens} tokens in {bare_s:.1f} s -> {bare:.1f} tokens/s "
              f"| ratio {ours / bare:.2f} (whole run), {steady:.2f} (median step after the first)",
              flush=True)
    if "float32" in rows and "bfloat16" in rows:
        for side in ("visempar", "bare"):
            speedup = rows["bfloat16"][f"{side}_tokens_per_s"] / rows["float32"][f"{side}_tokens_per_s"]
            print(f"bf16 / fp32 ({side}): {speedup:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.model}, {args.steps} optimizer steps per run, {threads} threads, torch {torch.__version__}, "
          f"peak RSS {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
