"""`visempar preflight` and `visempar train`: one config, the same stack, checked then trained."""

from __future__ import annotations

import sys

import click

from visempar.cli.common import JSON_OUT, guard, json_output, write_report


def train_options(fn):
    """The config and the common overrides, shared by `train` and `preflight`."""
    options = [
        click.option("--config", "config_path", help="YAML config: a path or a bundled config name "
                     "(default: MODEL-VARIANT for `tiny` and `smollm2`)."),
        click.option("--model", help="`tiny` (built offline), `smollm2` (bundled SmolLM2-135M-Instruct), "
                     "a .gguf file, a local directory or a hub name."),
        click.option("--variant", type=click.Choice(["baseline", "mtup"]),
                     help="baseline: sentence -> graph; mtup: the graph without variables first, then the full one."),
        click.option("--data", "train_data", type=click.Path(),
                     help="Training corpus (default: the bundled sample train split)."),
        click.option("--eval-data", type=click.Path(),
                     help="Evaluation corpus (default: the bundled sample dev split)."),
        click.option("--output-dir", type=click.Path(file_okay=False),
                     help="The run folder (default: runs/MODEL-VARIANT); a new or empty folder, or a run to resume."),
        click.option("--learning-rate", type=float, help="Peak learning rate (config: learning_rate)."),
        click.option("--max-length", type=int, help="Longest example in tokens; longer ones are excluded, counted."),
        click.option("--adapter-dtype", type=click.Choice(["float32", "bfloat16"]),
                     help="dtype of the trainable LoRA tensors (float32 keeps small updates from rounding away)."),
        click.option("--gradient-accumulation-steps", type=int,
                     help="Micro-batches per optimizer step."),
        click.option("--batch-size", "per_device_train_batch_size", type=int,
                     help="Examples per micro-batch (per device)."),
        click.option("--epochs", "num_train_epochs", type=float, help="Passes over the training data."),
        click.option("--max-steps", type=int, help="Optimizer steps in all (0 or -1: by --epochs)."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Override any config key (repeatable)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _config(config_path, settings, **flags):
    import yaml

    from visempar.config import ConfigError, default_config_name, load_config

    overrides = {k: v for k, v in flags.items() if v is not None}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    if config_path is None:
        config_path = default_config_name(overrides.get("model"), overrides.get("variant"))
    config = load_config(config_path, overrides)
    if config.variant == "mtup" and config.graph_format != "penman":  # mtup would ignore it (a run's record may hold it)
        raise ConfigError(f"{config_path or 'config'}: graph_format: {config.graph_format} is for the baseline "
                          "variant; mtup writes task 1 without variables and task 2 in PENMAN (set "
                          "graph_format: penman, or variant: baseline)")
    return config


def _read_by(config, config_path) -> dict:
    """What a training config makes `train` and `preflight` read."""
    from visempar.config import resolve_path
    from visempar.train.run import data_paths

    train, dev = data_paths(config)
    return {"--config": resolve_path(config_path) if config_path else None, "--data": train, "--eval-data": dev}


def _preflight_failure(report, strict: bool) -> str:
    """One line: the failed checks and the first one's reason."""
    failed = report.failed(strict)
    return (f"preflight failed: {', '.join(c.id for c in failed)}; {failed[0].id}: {failed[0].reason} "
            "(see the table above)")


def _run_preflight(config, json_out: str | None):
    from visempar.preflight.run import preflight

    report, prepared = preflight(config, log=lambda m: click.echo(m, err=True))
    click.echo(report.table())
    write_report(json_out, report.to_dict())
    return report, prepared


@click.command()
@train_options
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@JSON_OUT
def preflight(config_path, settings, strict, json_out, **flags):
    """Build exactly the training stack and prove that it trains, in seconds.

    Exit 0 when no check fails, 1 when one does (--strict: or warns).

    \b
    Example:
      visempar preflight --config smollm2-vlsp-varfree --data train.txt --eval-data dev.txt
    """
    from visempar.model.device import set_threads
    from visempar.quiet import silence_known_noise

    silence_known_noise()
    config = _config(config_path, settings, **flags)
    guard(_read_by(config, config_path), json_output(json_out))
    set_threads(config.cpu_threads)
    report, _ = _run_preflight(config, json_out)
    if report.failed(strict):
        raise click.ClickException(_preflight_failure(report, strict))


@click.command()
@train_options
@click.option("--resume", is_flag=True, help="Continue the run in --output-dir from its last "
              "complete checkpoint (refused if the config changed).")
@click.option("--force", is_flag=True, help="With --resume: accept a changed config.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in --output-dir.")
@click.option("--skip-preflight", is_flag=True, help="Do not run the preflight checks first.")
@click.option("--strict", is_flag=True, help="Preflight warnings stop the run too.")
def train(config_path, settings, resume, force, overwrite, skip_preflight, strict, **flags):
    """Fine-tune a LoRA adapter (TRL SFTTrainer) for VARIANT on the corpus.

    Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and stops; --resume continues exactly.
    When stderr is not a terminal (a log file), progress bars are off and the log lines
    stay; TQDM_DISABLE=0 brings the bars back.

    \b
    Example:
      visempar train --config smollm2-vlsp-varfree --data train.txt --eval-data dev.txt \\
        --output-dir runs/my-run
    """
    import os

    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported
    from visempar.quiet import silence_known_noise

    silence_known_noise()
    from visempar.model.device import set_threads
    from visempar.train.run import finished_summary, is_main_process, run_directory, summary_line
    from visempar.train.run import train as run_training

    config = _config(config_path, settings, **flags)
    from visempar.outputs import Output

    run_dir = run_directory(config)
    guard(_read_by(config, config_path), Output("--output-dir", run_dir, folder=True, writes=("config.yaml",),
                                                replaces=overwrite))
    set_threads(config.cpu_threads)
    prepared = None
    if resume and finished_summary(config, run_directory(config)) is not None:
        skip_preflight = True  # nothing will train: train() says the run is complete
    if not skip_preflight:
        report, prepared = _run_preflight(config, None) if is_main_process() else (None, None)
        if report is not None and report.failed(strict):
            raise click.ClickException(_preflight_failure(report, strict)
                                       + " (--skip-preflight to train anyway)")
    summary = run_training(config, resume=resume, force=force, overwrite=overwrite,
                           prepared=prepared, log=lambda m: click.echo(m, err=True))
    if is_main_process():
        click.echo(summary_line(summary))
    sys.exit(exit_status(summary))


SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal's number, as shells report it


def exit_status(summary: dict) -> int:
    """`train`'s exit status: 1 for an aborted run, 130/143 for one stopped by Ctrl-C or
    SIGTERM (after its checkpoint), else 0."""
    if summary["status"] == "aborted":
        return 1
    return SIGNAL_EXIT.get(summary.get("stopped_by") or "", 0)
