"""Training throughput: `visempar train` against a bare SFTTrainer script, in one process.

Same tiny model, same data, same LoRA, batch size and number of steps. The bare script is
what a user would write: TRL tokenizes the prompt-completion dataset itself, no monitor, no
checkpoints. Prints supervised-and-prompt tokens per second of both and the ratio.

    .venv/bin/python benchmarks/bench_train.py [--steps 60]
"""

import argparse
import json
import tempfile
import time

import torch


def _tokens(records) -> int:
    """TRL's running count of non-padding tokens, from the last log record that has it."""
    return int(max(r["num_tokens"] for r in records if "num_tokens" in r))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args()
    torch.set_num_threads(1)
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from visempar.model.tiny import tiny_model_path
    from visempar.config import load_config
    from visempar.train.run import train

    path = str(tiny_model_path())
    out = tempfile.mkdtemp()
    config = load_config("tiny-baseline", {"max_steps": args.steps, "output_dir": f"{out}/v",
                                           "eval_steps": 0, "save_steps": 10_000, "lora_dropout": 0.0,
                                           "logging_steps": 1})
    start = time.perf_counter()
    summary = train(config, log=lambda *_: None)
    ours_s = time.perf_counter() - start
    ours_tokens = _tokens([json.loads(x) for x in open(f"{out}/v/metrics.jsonl")])

    from visempar.amr import read_corpus
    from visempar.data.corpus import sample_path
    from visempar.data.prompts import PromptBuilder

    tok = AutoTokenizer.from_pretrained(path)
    builder = PromptBuilder("baseline", tok)
    corpus = read_corpus(sample_path("train")).examples
    data = Dataset.from_list([{"prompt": builder.prompt(e.sentence), "completion": builder.completion(e.graph)}
                              for e in corpus])
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    bare_args = SFTConfig(output_dir=f"{out}/bare", max_steps=args.steps, learning_rate=config.learning_rate,
                          per_device_train_batch_size=config.per_device_train_batch_size,
                          bf16=False, use_cpu=True, report_to="none", save_strategy="no",
                          logging_steps=1, activation_checkpointing=True,
                          activation_checkpointing_kwargs={"use_reentrant": False},
                          max_length=config.max_length, disable_tqdm=True, seed=0)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=0.0,
                      target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=bare_args, train_dataset=data, processing_class=tok,
                         peft_config=lora)
    start = time.perf_counter()
    trainer.train()
    bare_s = time.perf_counter() - start
    bare_tokens = _tokens(trainer.state.log_history)

    ours_rate = ours_tokens / summary["train_seconds"]
    bare_rate = bare_tokens / bare_s
    print(f"{args.steps} optimizer steps, batch {config.per_device_train_batch_size}, tiny model, 1 thread")
    print(f"visempar train : {ours_tokens} tokens in {summary['train_seconds']:.2f} s (trainer.train) "
          f"-> {ours_rate:,.0f} tokens/s   [whole call incl. build+data: {ours_s:.2f} s]")
    print(f"bare SFTTrainer: {bare_tokens} tokens in {bare_s:.2f} s (trainer.train) -> {bare_rate:,.0f} tokens/s")
    print(f"ratio visempar/bare: {ours_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
