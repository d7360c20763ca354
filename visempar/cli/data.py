"""`visempar data`: validate, describe, split and re-format corpus files."""

from __future__ import annotations

from pathlib import Path

import click

from visempar.cli.common import JSON_OUT, ON_ERROR, default_paths, guard, json_output, read_all, write_report
from visempar.outputs import Output


@click.group()
def data() -> None:
    """Corpus files: validate, statistics, train/dev split, re-formatting."""


@data.command()
@click.argument("paths", nargs=-1, type=click.Path())
@JSON_OUT
def validate(paths, json_out):
    """Check that every block of PATHS parses; exit 0 only if all do.

    Lists each problem with file, line and column. Without PATHS: the bundled sample.

    \b
    Example:
      visempar data validate train_amr_1.txt train_amr_2.txt --json validate.json
    """
    from visempar.amr import AMRError, read_corpus

    guard({"PATHS": default_paths(paths)}, json_output(json_out))
    report, failed = {"files": {}}, []
    for path in default_paths(paths):
        try:
            corpus = read_corpus(path, on_error="skip")
        except AMRError as e:
            click.echo(f"error: {e}", err=True)
            report["files"][str(path)] = {"error": str(e)}
            failed.append(str(path))
            continue
        for problem in corpus.errors:
            click.echo(f"error: {problem}")
        for problem in corpus.warnings:
            click.echo(f"warning: {problem}")
        if corpus.errors:
            failed.append(str(path))
        status = "ok" if not corpus.errors else "FAILED"
        click.echo(f"{path}: {corpus.blocks} blocks, {len(corpus)} graphs read, "
                   f"{len(corpus.errors)} errors, {len(corpus.warnings)} warnings: {status}")
        report["files"][str(path)] = {
            "blocks": corpus.blocks, "graphs": len(corpus), "errors": [str(e) for e in
                                                                       corpus.errors],
            "warnings": [str(w) for w in corpus.warnings]}
    report["ok"] = not failed
    write_report(json_out, report)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(report['files'])} files failed validation: "
                                   f"{', '.join(failed)}")


def _print_stats(name: str, s: dict) -> None:
    click.echo(f"== {name}")
    click.echo(f"  graphs {s['graphs']}, sentences {s['sentences']} "
               f"({s['distinct_sentences']} distinct, {s['duplicate_sentences']} duplicates)")
    for label, key in (("tokens/sentence", "tokens_per_sentence"),
                       ("nodes/graph", "nodes_per_graph"),
                       ("triples/graph", "triples_per_graph")):
        v = s[key]
        click.echo(f"  {label:<16} mean {v['mean']:>6}  p50 {v['p50']:>4}  p90 {v['p90']:>4}  "
                   f"max {v['max']:>4}")
    click.echo(f"  re-entrancies {s['reentrancies']} in {s['graphs_with_reentrancy']} graphs")
    spell = ", ".join(f"{k} {v}" for k, v in s["concept_spelling"].items())
    click.echo(f"  concept spelling: {spell}")


@data.command()
@click.argument("paths", nargs=-1, type=click.Path())
@ON_ERROR
@JSON_OUT
def stats(paths, on_error, json_out):
    """Figures of each file and of all together, and sentence overlap between files.

    Triples are counted as the reference scorer counts them (instances, edges, attributes
    and TOP). Without PATHS: the bundled sample.

    \b
    Example:
      visempar data stats train_amr_1.txt train_amr_2.txt
    """
    from visempar.data.corpus import corpus_stats, overlap

    guard({"PATHS": default_paths(paths)}, json_output(json_out))
    corpora = read_all(default_paths(paths), on_error)
    report = {"files": {}, "skipped_blocks": sum(len(c.errors) for c in corpora)}
    for corpus in corpora:
        report["files"][corpus.path] = corpus_stats(corpus.examples)
        _print_stats(corpus.path, report["files"][corpus.path])
    if len(corpora) > 1:
        report["all"] = corpus_stats([e for c in corpora for e in c.examples])
        _print_stats("all files", report["all"])
        report["overlap"] = overlap({c.path: [e.sentence for e in c if e.sentence]
                                     for c in corpora})
        click.echo("== sentence overlap (distinct shared sentences)")
        for pair, n in report["overlap"].items():
            click.echo(f"  {pair}: {n}")
    if report["skipped_blocks"]:
        click.echo(f"skipped blocks: {report['skipped_blocks']}")
    write_report(json_out, report)


@data.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share of the graphs that go to dev.txt.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the shuffle: same inputs and seed, same split.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory that receives train.txt and dev.txt.")
@click.option("--test", "tests", multiple=True, type=click.Path(),
              help="Test input (sentences one per line, or a corpus); repeatable. Overlap "
                   "with it is refused.")
@click.option("--exclude-test", is_flag=True,
              help="Drop examples whose sentence is in a --test input instead of refusing.")
@click.option("--like", "like_path", type=click.Path(),
              help="A test input (sentences, or a corpus): dev sentence lengths follow its lengths.")
@ON_ERROR
@JSON_OUT
def split(paths, dev_fraction, seed, out_dir, tests, exclude_test, like_path, on_error, json_out):
    """Deterministic train/dev split of PATHS; duplicates stay on one side.

    Without PATHS: the bundled sample's train file.

    \b
    Example:
      visempar data split train_amr_1.txt train_amr_2.txt --out split --test public_test.txt \\
        --exclude-test --like public_test.txt
    """
    from visempar.amr import write_corpus
    from visempar.data.corpus import read_sentences, sample_path, split_examples

    paths = [Path(p) for p in paths] or [sample_path("train")]
    guard({"PATHS": paths, "--test": list(tests), "--like": like_path},
          Output("--out", out_dir, folder=True, writes=("train.txt", "dev.txt")), json_output(json_out))
    corpora = read_all(paths, on_error)
    examples = [e for c in corpora for e in c.examples]
    test_sentences = [s for t in tests for s in read_sentences(t)]
    like = read_sentences(like_path) if like_path else []
    result = split_examples(examples, dev_fraction, seed, test_sentences, exclude_test, like)
    out = Path(out_dir)
    write_corpus(out / "train.txt", result.train)
    write_corpus(out / "dev.txt", result.dev)
    report = {"inputs": [str(p) for p in paths], "seed": seed, "dev_fraction": dev_fraction,
              "train": len(result.train), "dev": len(result.dev),
              "excluded_test_overlap": [e.location for e in result.excluded],
              "skipped_blocks": sum(len(c.errors) for c in corpora),
              "outputs": [str(out / "train.txt"), str(out / "dev.txt")]}
    words = {"train": [e.sentence for e in result.train], "dev": [e.sentence for e in result.dev],
             **({"like": like} if like else {})}
    report["mean_words"] = {side: round(sum(len((s or "").split()) for s in sents) / len(sents), 1)
                            for side, sents in words.items()}
    click.echo(f"train {report['train']}, dev {report['dev']}, excluded for test overlap "
               f"{len(result.excluded)}, skipped {report['skipped_blocks']} -> {out}")
    click.echo("mean words per sentence: " + ", ".join(f"{k} {v}" for k, v in report["mean_words"].items()))
    write_report(json_out, report)


@data.command(name="format")
@click.argument("path", type=click.Path())
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True,
              help="The rewritten corpus file.")
@click.option("--style", type=click.Choice(["vlsp", "oneline"]), default="vlsp",
              show_default=True, help="Multi-line VLSP layout, or one graph per line.")
@click.option("--concepts", type=click.Choice(["keep", "space", "underscore"]),
              default="keep", show_default=True,
              help="Respell multi-word concepts (gold convention: space).")
@ON_ERROR
def format_(path, out_path, style, concepts, on_error):
    """Rewrite a corpus file in a given layout and concept spelling (NFC, LF).

    \b
    Example:
      visempar data format train_amr_1.txt --out train1.oneline.txt --style oneline --concepts space
    """
    from visempar.amr import write_corpus

    guard({"PATH": path}, Output("--out", out_path))
    (corpus,) = read_all([Path(path)], on_error, None if concepts == "keep" else concepts)
    n = write_corpus(out_path, corpus.examples, style)
    click.echo(f"{n} graphs written to {out_path} ({len(corpus.errors)} skipped)")
