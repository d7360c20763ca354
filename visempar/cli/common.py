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


def refuse_outputs_on_inputs(inputs, outputs: dict[str, str | None]) -> None:
    """An output (`--output`, `--json`, ...) that is one of the command's inputs would
    destroy it: refused before anything runs, naming both."""
    import os

    def same(a, b) -> bool:
        try:
            return os.path.samefile(a, b)
        except OSError:
            return Path(a).resolve() == Path(b).resolve()

    for option, out in outputs.items():
        if out is None:
            continue
        for given in inputs:
            if given is not None and same(out, given):
                raise click.ClickException(f"{option} {out} is an input of this command ({given}); "
                                           "choose another path")


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


AFTER_DECODING_SET = click.option(
    "--set", "after", multiple=True, metavar="KEY=VALUE",
    help="Change one of the run's passes after decoding, no retraining needed: negation=next-word, "
         "copy_words=nearest, surplus_words=drop, missing_words=add, names=capitalized "
         "(or none/none/keep/none/none).")


def after_decoding(items) -> dict:
    """`--set KEY=VALUE` items as a mapping (the run refuses keys other than its passes)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def load_run(run_dir: str, **kwargs):
    """A trained run, ready to generate (third-party noise silenced before it loads)."""
    from visempar.infer.load import load_run as load
    from visempar.quiet import silence_known_noise

    silence_known_noise()
    return load(run_dir, **kwargs)
