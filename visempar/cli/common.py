"""What the command modules share: options, reading corpora, reports, progress lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

SPLITS = ("train", "dev", "test")

ON_ERROR = click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise",
                        show_default=True,
                        help="Stop at the first malformed block, or skip it (and count it).")
JSON_OUT = click.option("--json", "json_out", type=click.Path(dir_okay=False),
                        help="Also write the report as JSON to this file.")
ALIGN = click.option("--align", type=click.Choice(["sentences", "order"]), default="sentences",
                     show_default=True,
                     help="sentences: each prediction's #::snt must equal the gold's in normal form "
                          "(NFC, case, spacing, _, trailing punctuation); order: by position alone.")


def guard(inputs: dict, *outputs) -> None:
    """Every output of a command checked against its inputs and each other before any work
    (`visempar.outputs.check_outputs`); `--json` is `Output("--json", path)` or None."""
    from visempar.outputs import check_outputs

    check_outputs(inputs, outputs)


def json_output(path: str | None):
    """The `--json` report as an output to guard (None when not asked for)."""
    from visempar.outputs import Output

    return Output("--json", path) if path else None


def default_paths(paths: tuple[str, ...]) -> list[Path]:
    """The given paths, or the bundled sample corpus (train, dev, test) when none."""
    if paths:
        return [Path(p) for p in paths]
    from visempar.data.corpus import sample_path

    return [sample_path(s) for s in SPLITS]


def write_report(path: str | None, report: dict) -> None:
    """The `--json` report, when one was asked for."""
    if path:
        from visempar.reports import write_json

        write_json(path, report)
        click.echo(f"report written to {path}", err=True)


def read_all(paths, on_error: str, concepts: str | None = None):
    """Every file read; problems go to stderr, and a bad file stops with exit 1."""
    from visempar.amr import AMRError, read_corpus

    corpora = []
    for path in paths:
        try:
            corpus = read_corpus(path, on_error=on_error, concepts=concepts)
        except AMRError as e:
            raise click.ClickException(f"{e}\n(use --on-error skip to skip bad blocks, "
                                       "counted)") from None
        for problem in corpus.warnings:
            click.echo(f"warning: {problem}", err=True)
        for problem in corpus.errors:
            click.echo(f"skipped: {problem}", err=True)
        corpora.append(corpus)
    return corpora


def progress(total: int, label: str, rate: bool = False):
    """A progress bar on stderr (with its ETA) and the callback that advances it; with
    `rate`, the label also shows items per second."""
    import time

    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)
    start = time.perf_counter()

    def step(n: int) -> None:
        if rate:
            bar.label = f"{label} ({(bar.pos + n) / max(time.perf_counter() - start, 1e-9):.2f}/s)"
        bar.update(n)

    return bar, step


def stops(stopped_by: dict) -> str:
    """Why generation stopped, as `reason count` pairs."""
    return ", ".join(f"{reason} {n}" for reason, n in stopped_by.items()) or "nothing"


def _passes_help() -> str:
    from visempar.passes.registry import help_text

    return ("Change one of the run's passes after decoding, no retraining needed: " + help_text()
            + "; repeatable.")


AFTER_DECODING_SET = click.option("--set", "after", multiple=True, metavar="KEY=VALUE", help=_passes_help())


def after_decoding(items) -> dict:
    """`--set KEY=VALUE` items as a mapping, each key a pass after decoding and each value
    one of its values (checked here, before anything loads)."""
    from visempar.passes import KEYS, PassError, check_value

    out = {}
    for item in items:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE")
        if key not in KEYS:
            raise click.UsageError(f"--set {key}: only the passes after decoding ({', '.join(KEYS)}) "
                                   "can change without retraining")
        try:
            out[key] = check_value(key, value)
        except PassError as e:
            raise click.UsageError(f"--set {item}: {e}") from None
    return out


PASSES_OPTION = click.option(
    "--passes", "pass_names", metavar="NAMES",
    help="Also run these passes after decoding on every graph, separated by commas (e.g. "
         "names,copy_words; docs/decoding.md has the table). names and copy_words are safe for "
         "a strong system; surplus_words and missing_words help weak ones and cost strong ones "
         "(docs/real-corpus.md). missing_words reads a run's fitted lexicon: give --run.")
FITTED_RUN = click.option("--run", "fitted_run", type=click.Path(),
                          help="With --passes: the run whose fitted data (RUN/lexicon.json) the passes read.")


def chosen_passes(names: str | None, run: str | None):
    """`--passes a,b` and `--run RUN` as (Passes, the run's lexicon or None), checked before
    any work: an unknown pass, a pass that needs a run's fitted data without `--run`, and
    `--run` without `--passes` are each one line."""
    from visempar.passes import NO_PASSES, Passes, PassError

    if names is None:
        if run:
            raise click.UsageError("--run gives the passes a run's fitted data: it goes with --passes")
        return NO_PASSES, None
    try:
        passes = Passes.named(n.strip() for n in names.split(",") if n.strip())
    except PassError as e:
        raise click.UsageError(f"--passes {names}: {e}") from None
    if not passes.switched_on():
        raise click.UsageError(f"--passes {names!r}: name at least one pass")
    if not run:
        if passes.needs_fitted():
            raise click.UsageError(f"--passes {', '.join(passes.needs_fitted())}: reads what a run fitted on its "
                                   "training graphs (RUN/lexicon.json); give --run RUN, or leave it out")
        return passes, None
    from visempar.data.lexicon import Lexicon

    if not (Path(run) / "config.yaml").is_file():
        raise click.UsageError(f"--run {run}: not a run directory (no config.yaml)")
    return passes, Lexicon.load(Path(run) / "lexicon.json")


def load_run(run_dir: str, **kwargs):
    """A trained run, ready to generate (third-party noise silenced before it loads)."""
    from visempar.infer.load import load_run as load
    from visempar.quiet import silence_known_noise

    silence_known_noise()
    return load(run_dir, **kwargs)
