"""The training recipe, top to bottom: prepare, train, save, summarise.

Preflight sits a layer above (it checks this recipe): `visempar train` runs it first on the
stack `prepare` builds, then hands that stack to `train` (`visempar.cli.training`).

A run directory holds:
    config.yaml      the resolved config          run.json     its hash, model, sizes
    metrics.jsonl    every log record             curve.png    loss and LR
    checkpoints/     committed checkpoints        adapter/     PEFT adapter + tokenizer
    summary.json     how it ended, with figures   lexicon.json what the passes after decoding
                                                               read, fitted on the training graphs
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from visempar.amr.errors import CorpusError
from visempar.amr.io import read_corpus
from visempar.data.corpus import sample_path
from visempar.data.encode import Encoded, TruncationError, encode_examples
from visempar.data.lexicon import Lexicon
from visempar.data.prompts import PromptBuilder
from visempar.infer.budget import TokenBudget
from visempar.errors import VisemparError
from visempar.locks import OutputLock
from visempar.model.build import Stack, build_stack
from visempar.config import TrainConfig, load_config, save_config
from visempar.reports import write_atomic, write_json
from visempar.train.checkpoints import COMPLETE, committed, newest_verified
from visempar.train.schedule import Schedule, plan



class RunError(VisemparError, RuntimeError):
    """A run that must not start (or resume) as asked; the message says why and what to do."""


@dataclass
class Prepared:
    """Everything `train` and `preflight` share: one build, one encoding, one schedule."""

    config: TrainConfig
    stack: Stack
    builder: PromptBuilder
    train: Encoded
    eval: Encoded
    schedule: Schedule
    budget: TokenBudget
    lexicon: Lexicon  # fitted on the training graphs (`missing_words`), stored in lexicon.json


def data_paths(config: TrainConfig) -> tuple[str, str]:
    return (config.train_data or str(sample_path("train")),
            config.eval_data or str(sample_path("dev")))


def default_output_dir(config: TrainConfig) -> Path:
    name = Path(config.model).name or "model"
    return Path("runs") / f"{name}-{config.variant}"


def run_directory(config: TrainConfig) -> Path:
    """Where the run lives: `output_dir`, else `runs/MODEL-VARIANT`."""
    return Path(config.output_dir) if config.output_dir else default_output_dir(config)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def every_rank_has_looked() -> None:
    """A barrier across the ranks of a distributed launch (nothing when alone), through the
    process group the trainer will use: ranks start with skew, and a late rank must not
    mistake the run rank 0 just started for an earlier one."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def prepare(config: TrainConfig, stack: Stack | None = None, log=print) -> Prepared:
    """Build the stack, read and encode the data, plan the schedule."""
    import transformers

    transformers.set_seed(config.seed)
    corpora = [read_corpus(path, concepts=config.concepts) for path in data_paths(config)]  # fail fast
    for corpus in corpora:
        unsaid = [e for e in corpus.examples if not (e.sentence or "").strip()]
        if unsaid:
            raise CorpusError(f"{unsaid[0].location}: a block without a `#::snt` sentence ({len(unsaid)} such "
                              "block(s)): a training or eval example needs the sentence its graph is for")
    stack = stack or build_stack(config)
    builder = PromptBuilder.for_config(config, stack.tokenizer)
    encoded = []
    for corpus in corpora:
        path = corpus.path
        enc = encode_examples(corpus.examples, stack.tokenizer, builder, config.max_length,
                              config.on_truncation)
        if enc.lengths.excluded:
            log(f"{path}: {len(enc.lengths.excluded)} of {len(corpus.examples)} examples longer than "
                f"max_length {config.max_length} excluded (first: {enc.lengths.excluded[0]})")
        if not enc.rows:
            raise TruncationError(f"{path}: no example fits max_length {config.max_length}")
        encoded.append(enc)
    schedule = plan(config, len(encoded[0].rows), world_size())
    return Prepared(config, stack, builder, encoded[0], encoded[1], schedule,
                    fit_budget(config, encoded[0], stack.tokenizer), Lexicon.fit(corpora[0].examples))


def fit_budget(config: TrainConfig, train: Encoded, tokenizer) -> TokenBudget:
    """The generation budget, fitted on the training completions when `max_new_tokens: auto`."""
    sentences = [len(tokenizer(e.sentence or "", add_special_tokens=False)["input_ids"])
                 for e in train.examples]
    completions = [sum(1 for s in row["segment"] if s) for row in train.rows]
    fitted = TokenBudget.fit(sentences, completions, config.max_length)
    return TokenBudget.from_config(config.max_new_tokens, config.max_length, fitted.ratio)


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Committed checkpoints, oldest first; half-written ones are ignored."""
    return committed(run_dir / "checkpoints")


def resumable_config(config: TrainConfig, run_dir: Path, force: bool) -> list[str]:
    """How `config` differs from the run's own (refused unless `force`)."""
    stored_path = run_dir / "config.yaml"
    if not stored_path.exists():
        raise RunError(f"--resume: {run_dir} holds no run (no config.yaml)")
    diff = config.diff(load_config(stored_path))
    if diff and not force:
        raise RunError("--resume: the config differs from the one this run was started with:\n  "
                       + "\n  ".join(diff) + "\nresume with the original settings, or pass --force")
    return diff


def check_resume(config: TrainConfig, run_dir: Path, force: bool, log=print) -> Path | None:
    """The newest checkpoint that verifies against its commit record (newer torn ones are
    named and skipped); None (start again from step 0, said in the log) when none does."""
    if not (run_dir / "config.yaml").exists():  # killed before it wrote anything
        log(f"--resume: {run_dir} holds no run yet (no config.yaml): starting from step 0")
        return None
    resumable_config(config, run_dir, force)
    checkpoint = newest_verified(run_dir / "checkpoints", log)
    if checkpoint is None:
        log(f"--resume: no complete checkpoint under {run_dir / 'checkpoints'}: starting again from step 0")
    return checkpoint


def finished_summary(config: TrainConfig, run_dir: Path) -> dict | None:
    """The summary of a run that completed under this very config (nothing to resume)."""
    path = run_dir / "summary.json"
    if not path.exists() or not (run_dir / "adapter" / "adapter_config.json").exists():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    if summary.get("status") != "completed" or resumable_config(config, run_dir, force=True):
        return None
    return {**summary, "run_dir": str(run_dir), "already_complete": True}


def _catch_signals(monitor, log) -> dict:
    """First SIGINT/SIGTERM: save at the end of this step and stop; a second one kills."""
    previous = {}

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if monitor.stop_signal:
            signal.signal(signum, previous[signum])
            os.kill(os.getpid(), signum)
            return
        monitor.stop_signal = name
        log(f"\n{name}: saving a checkpoint at the end of this step, then stopping "
            "(send it again to stop at once)")

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def curve_figure(records: list[dict]):
    """Training loss (with the per-task and eval losses when logged) and the LR against the
    optimizer step, read from the metrics records; None before the first logged loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [r for r in records if "loss" in r]
    if not train:
        return None
    fig, (losses, lr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for key, label in (("loss", "train loss"), ("loss_task1", "loss task1"), ("loss_task2", "loss task2"),
                       ("eval_loss", "eval loss")):
        points = [(r["step"], r[key]) for r in records if key in r]
        if points:
            losses.plot(*zip(*points), label=label)
    losses.set_ylabel("loss")
    losses.legend()
    lrs = [(r["step"], r["learning_rate"]) for r in train if "learning_rate" in r]
    if lrs:
        lr.plot(*zip(*lrs))
    lr.set_ylabel("learning rate")
    lr.set_xlabel("optimizer step")
    fig.tight_layout()
    return fig


def plot_curves(metrics_path: Path, out: Path) -> None:
    """curve.png of the run's metrics.jsonl (nothing before the first logged loss)."""
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    fig = curve_figure(records)
    if fig is not None:
        image = io.BytesIO()
        fig.savefig(image, format="png", dpi=100)
        plt.close(fig)
        write_atomic(out, image.getvalue())


def train(config: TrainConfig, *, resume: bool = False, force: bool = False,
          overwrite: bool = False, prepared: Prepared | None = None, callbacks=(),
          log=print) -> dict:
    """Train one run; returns its summary (also written to summary.json). One process
    writes a run folder at a time: a second is refused (`visempar.locks`)."""
    run_dir = run_directory(config)
    lock = (OutputLock(run_dir.with_name(run_dir.name + ".lock"), f"run folder {run_dir}", log)
            if is_main_process() else nullcontext())
    with lock:
        return _train(config, run_dir, resume=resume, force=force, overwrite=overwrite,
                      prepared=prepared, callbacks=callbacks, log=log)


def _train(config: TrainConfig, run_dir: Path, *, resume: bool, force: bool, overwrite: bool,
           prepared: Prepared | None, callbacks, log) -> dict:
    from visempar.train.health import HealthMonitor, TrainingHealthError
    from visempar.train.trainer import MetricsWriter, make_trainer, selects_best

    done = finished_summary(config, run_dir) if resume else None
    if done is not None:
        log(f"--resume: {run_dir} is complete ({done['steps']} steps, adapter in {done['adapter']}); "
            "nothing to resume")
        return done
    checkpoint = start_run(config, run_dir, resume=resume, force=force, overwrite=overwrite, log=log)
    prepared = prepared or prepare(config, log=log)
    main = is_main_process()
    if main:
        write_run_info(config, run_dir, prepared)
    log(f"schedule: {prepared.schedule.describe()}")

    monitor = HealthMonitor(config.max_bad_steps, config.stall_check_steps, log=log)
    metrics = run_dir / "metrics.jsonl"
    rank = int(os.environ.get("RANK", "0"))
    trainer = make_trainer(config, prepared.stack, prepared.train.rows, prepared.eval.rows,
                           prepared.schedule, run_dir / "checkpoints", monitor,
                           callbacks=[MetricsWriter(metrics if main else run_dir / f"metrics.rank{rank}.jsonl"),
                                      *callbacks], dev_score=dev_scorer(config, prepared))
    if selects_best(config):
        log(f"model selection: the adapter with the best {config.select_best} at an evaluation "
            f"(every {config.eval_steps} steps) is kept")
    if checkpoint is not None:
        stored = json.loads((checkpoint / COMPLETE).read_text())
        monitor.state.skipped_steps = stored["health"]["skipped_steps"]
        if main and metrics.exists():  # records past the checkpoint are logged again as the steps are retaken
            kept = [line for line in metrics.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= stored["step"]]
            write_atomic(metrics, "".join(line + "\n" for line in kept))
    previous = _catch_signals(monitor, log)
    status, error = "completed", None
    start = time.perf_counter()
    try:
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except TrainingHealthError as err:
        status, error, result = "aborted", str(err), None
    finally:
        trainer.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    seconds = time.perf_counter() - start
    if monitor.stop_signal:
        status = "interrupted"

    if status == "completed" and main:
        trainer.save_model(str(run_dir / "adapter"))
    history = [r for r in trainer.state.log_history if "loss" in r]
    summary = {
        "status": status, "error": error, "stopped_by": monitor.stop_signal, "variant": config.variant, "model": config.model,
        "config_hash": config.hash(), "steps": trainer.state.global_step,
        "total_steps": prepared.schedule.total_steps, "train_seconds": round(seconds, 2),
        "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None,
        "train_examples": len(prepared.train.rows), "excluded_examples": len(prepared.train.lengths.excluded),
        "health": monitor.state.to_dict(),
        "train_runtime_metrics": result.metrics if result is not None else None,
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "adapter": str(run_dir / "adapter") if status == "completed" else None,
        "kept": kept_adapter(trainer, status),
        "resumed_from": checkpoint.name if checkpoint else None,
        "last_checkpoint": complete_checkpoints(run_dir)[-1].name if complete_checkpoints(run_dir) else None,
    }
    if main:
        write_json(run_dir / "summary.json", summary)
        if metrics.exists():
            plot_curves(metrics, run_dir / "curve.png")
    summary["run_dir"] = str(run_dir)
    return summary


def start_run(config: TrainConfig, run_dir: Path, *, resume: bool, force: bool, overwrite: bool,
              log=print) -> Path | None:
    """The checkpoint to resume from (None for a new run), once every rank has looked;
    an existing run is refused unless `overwrite`."""
    existing = (run_dir / "config.yaml").exists()
    if is_main_process() and not existing and run_dir.is_dir() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} holds files but no visempar run (no config.yaml); a run writes into a new "
                       "or empty folder: choose another --output-dir")
    every_rank_has_looked()  # before rank 0 writes this run's config.yaml
    if resume:
        checkpoint = check_resume(config, run_dir, force, log)
        if checkpoint is not None:
            log(f"resuming {run_dir} from {checkpoint.name}")
        return checkpoint
    if existing:
        if not overwrite:
            raise RunError(f"{run_dir} already holds a run; --resume it, choose another "
                           "--output-dir, or pass --overwrite")
        if is_main_process():
            shutil.rmtree(run_dir)
    return None


def write_run_info(config: TrainConfig, run_dir: Path, prepared: Prepared) -> None:
    """config.yaml and run.json: what the run is, written before its first step."""
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    write_json(run_dir / "run.json", {
        "config_hash": config.hash(), "model_path": prepared.stack.model_path,
        "quantized": prepared.stack.quantized, "compute_dtype": prepared.stack.compute_dtype,
        "build_order": prepared.stack.steps, "world_size": world_size(),
        "schedule": prepared.schedule.to_dict(), "token_budget": prepared.budget.to_dict(),
        "train_lengths": prepared.train.lengths.to_dict(),
        "eval_lengths": prepared.eval.lengths.to_dict()})
    write_json(run_dir / "lexicon.json", prepared.lexicon.to_dict(), indent=None)


def dev_scorer(config: TrainConfig, prepared: Prepared):
    """`model -> dev Smatch F1` on the first `dev_smatch_examples` eval graphs, for
    `select_best: smatch`; None otherwise."""
    if config.select_best != "smatch" or not config.eval_steps:
        return None
    from visempar.infer.generate import dev_smatch
    from visempar.passes import Passes

    examples = prepared.eval.examples[:config.dev_smatch_examples]
    return lambda model: dev_smatch(
        model, prepared.stack.tokenizer, prepared.builder, examples,
        budget=prepared.budget, batch_size=config.generation_batch_size,
        concepts=config.concepts, compute_dtype=prepared.stack.compute_dtype,
        passes=Passes.of(config), lexicon=prepared.lexicon).f1


def kept_adapter(trainer, status: str) -> dict:
    """Which step's adapter the run saved, and why."""
    state = trainer.state
    best = state.best_model_checkpoint
    if status != "completed" or not best or not trainer.args.load_best_model_at_end:
        return {"step": state.global_step, "why": "last step"}
    step = int(Path(best).name.rsplit("-", 1)[-1])
    metric = trainer.args.metric_for_best_model
    last = next((r[metric] for r in reversed(state.log_history) if metric in r), None)
    return {"step": step, "why": f"best {metric}", "value": state.best_metric, "last_value": last}


def summary_line(summary: dict) -> str:
    loss = (f"loss {summary['first_loss']:.3f} -> {summary['last_loss']:.3f}"
            if summary.get("first_loss") is not None else "no loss logged")
    head = {"completed": "trained", "interrupted": "interrupted", "aborted": "ABORTED"}[summary["status"]]
    text = (f"{head}: {summary['variant']} on {summary['model']}, step {summary['steps']}/"
            f"{summary['total_steps']}, {loss}, {summary['train_seconds']:.0f} s, "
            f"{summary['health']['skipped_steps']} skipped steps -> {summary['run_dir']}")
    kept = summary["kept"]
    if kept["why"] != "last step":
        text += (f"\nkept the adapter of step {kept['step']} ({kept['why']} {kept['value']:.4f}; "
                 f"last evaluation {kept['last_value']:.4f})")
    if summary["status"] == "interrupted":
        text += f"\ncheckpoint {summary['last_checkpoint']} saved; continue with --resume"
    if summary["error"]:
        text += f"\n{summary['error']}"
    return text
