"""The `visempar` command line.

Only click is imported at start-up: each command imports what it needs (torch and
transformers never load for `--help` or the data commands).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

SPLITS = ("train", "dev", "test")


def _default_paths(paths: tuple[str, ...]) -> list[Path]:
    """The given paths, or the bundled sample corpus (train, dev, test) when none."""
    if paths:
        return [Path(p) for p in paths]
    from visempar.data.corpus import sample_path

    return [sample_path(s) for s in SPLITS]


def _write_json(path: str | None, report: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                              encoding="utf-8")
        click.echo(f"report written to {path}", err=True)


def _read_all(paths, on_error: str, concepts: str | None = None):
    """Read every file; errors and warnings go to stderr; a bad file stops with exit 1."""
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


ON_ERROR = click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise",
                        show_default=True,
                        help="Stop at the first malformed block, or skip it (and count it).")
JSON_OUT = click.option("--json", "json_out", type=click.Path(dir_okay=False),
                        help="Also write the report as JSON to this file.")


class ErrorBoundary(click.Group):
    """Every expected failure (`VisemparError`, or an OS error on a named file) ends as one
    `Error: ...` line and exit code 1; anything else is a bug and keeps its traceback."""

    def invoke(self, ctx):
        from visempar.errors import VisemparError

        try:
            return super().invoke(ctx)
        except VisemparError as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            if e.filename is None:
                raise
            raise click.ClickException(f"{e.filename}: {e.strerror or e}") from None


@click.group(cls=ErrorBoundary, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="visempar")
def main() -> None:
    """visempar: Vietnamese AMR parsing (VLSP 2025 format) with LoRA fine-tuning."""
    from visempar.quiet import silence_known_noise

    silence_known_noise()


@main.group()
def data() -> None:
    """Corpus files: validate, statistics, train/dev split, re-formatting."""


@data.command()
@click.argument("paths", nargs=-1, type=click.Path())
@JSON_OUT
def validate(paths, json_out):
    """Check that every block of PATHS parses; exit 0 only if all do.

    Lists each problem with file, line and column. Without PATHS: the bundled sample.
    """
    from visempar.amr import AMRError, read_corpus

    report, failed = {"files": {}}, []
    for path in _default_paths(paths):
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
    _write_json(json_out, report)
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
    """
    from visempar.data.corpus import corpus_stats, overlap

    corpora = _read_all(_default_paths(paths), on_error)
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
    _write_json(json_out, report)


@data.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--dev-fraction", type=float, default=0.1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory that receives train.txt and dev.txt.")
@click.option("--test", "tests", multiple=True, type=click.Path(),
              help="Test input (sentences one per line, or a corpus); repeatable. Overlap "
                   "with it is refused.")
@click.option("--exclude-test", is_flag=True,
              help="Drop examples whose sentence is in a --test input instead of refusing.")
@ON_ERROR
@JSON_OUT
def split(paths, dev_fraction, seed, out_dir, tests, exclude_test, on_error, json_out):
    """Deterministic train/dev split of PATHS; duplicates stay on one side.

    Without PATHS: the bundled sample's train file.
    """
    from visempar.amr import write_corpus
    from visempar.data.corpus import read_sentences, sample_path, split_examples

    paths = [Path(p) for p in paths] or [sample_path("train")]
    corpora = _read_all(paths, on_error)
    examples = [e for c in corpora for e in c.examples]
    test_sentences = [s for t in tests for s in read_sentences(t)]
    result = split_examples(examples, dev_fraction, seed, test_sentences, exclude_test)
    out = Path(out_dir)
    write_corpus(out / "train.txt", result.train)
    write_corpus(out / "dev.txt", result.dev)
    report = {"inputs": [str(p) for p in paths], "seed": seed, "dev_fraction": dev_fraction,
              "train": len(result.train), "dev": len(result.dev),
              "excluded_test_overlap": [e.location for e in result.excluded],
              "skipped_blocks": sum(len(c.errors) for c in corpora),
              "outputs": [str(out / "train.txt"), str(out / "dev.txt")]}
    click.echo(f"train {report['train']}, dev {report['dev']}, excluded for test overlap "
               f"{len(result.excluded)}, skipped {report['skipped_blocks']} -> {out}")
    _write_json(json_out, report)


@data.command(name="format")
@click.argument("path", type=click.Path())
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True)
@click.option("--style", type=click.Choice(["vlsp", "oneline"]), default="vlsp",
              show_default=True, help="Multi-line VLSP layout, or one graph per line.")
@click.option("--concepts", type=click.Choice(["keep", "space", "underscore"]),
              default="keep", show_default=True,
              help="Respell multi-word concepts (gold convention: space).")
@ON_ERROR
def format_(path, out_path, style, concepts, on_error):
    """Rewrite a corpus file in a given layout and concept spelling (NFC, LF)."""
    from visempar.amr import write_corpus

    (corpus,) = _read_all([Path(path)], on_error, None if concepts == "keep" else concepts)
    n = write_corpus(out_path, corpus.examples, style)
    click.echo(f"{n} graphs written to {out_path} ({len(corpus.errors)} skipped)")


@main.command()
@click.option("--metric", type=click.Choice(["smatch", "fine"]), default="smatch", show_default=True,
              help="`fine`: Smatch plus the components of Damonte et al. (2017): unlabeled, "
                   "no WSD, concepts, named entities, negation, wikification, "
                   "re-entrancies, SRL.")
@click.option("--predictions", "pred_path", type=click.Path(),
              help="Predicted graphs, one block per gold block, in the same order.")
@click.option("--gold", "gold_path", type=click.Path(),
              help="Gold graphs in the VLSP block format.")
@click.option("--run", "run_dir", type=click.Path(),
              help="Parse the gold file's sentences with this trained run, then score.")
@click.option("--data", "data_path", type=click.Path(),
              help="With --run: the gold file (default: the sample test split).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="With --run: where predictions and reports go (default RUN/eval).")
@click.option("--restarts", type=int, default=4, show_default=True,
              help="Random restarts of the hill-climbing alignment (the reference uses 4).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the restarts and of the bootstrap: same files, same score.")
@click.option("--exact", is_flag=True,
              help="Also prove each alignment optimal by branch and bound (the reference's "
                   "hill-climbing can miss the optimum).")
@click.option("--normalize-concepts", is_flag=True,
              help="Respell multi-word concepts of the predictions to the gold convention.")
@click.option("--align", type=click.Choice(["sentences", "order"]), default="sentences",
              show_default=True,
              help="sentences: each prediction's #::snt must equal the gold's in normal form "
                   "(NFC, case, spacing, _, trailing punctuation); order: by position alone.")
@click.option("--samples", type=int, default=0, show_default=True,
              help="With --run: also N sampled generations per sentence, MBR-selected.")
@JSON_OUT
def evaluate(metric, pred_path, gold_path, run_dir, data_path, out_dir, restarts, seed, exact,
             normalize_concepts, align, samples, json_out):
    """Corpus-level Smatch of PREDICTIONS against GOLD, or of a trained RUN on a gold file.

    With --metric fine, also the fine-grained components (see visempar/eval/fine.py).

    Every gold graph counts: an empty, garbage or malformed prediction scores zero matched
    triples and is listed. Misaligned files are an error.
    """
    if run_dir:
        if pred_path or gold_path:
            raise click.UsageError("--run parses the sentences itself: use --data, not --predictions/--gold")
        return _evaluate_run(run_dir, data_path, out_dir, json_out, restarts=restarts, seed=seed,
                             fine=metric == "fine", exact=exact, normalize=normalize_concepts,
                             align=align, samples=samples)
    if not (pred_path and gold_path):
        raise click.UsageError("give --predictions and --gold, or --run")
    from visempar.eval.files import score_files

    report, extra = score_files(pred_path, gold_path, restarts=restarts, seed=seed,
                                exact=exact, normalize=normalize_concepts,
                                fine=metric == "fine", align=align)
    lo, hi = report.f1_ci95
    click.echo(f"Smatch  P {report.precision:.4f}  R {report.recall:.4f}  F1 {report.f1:.4f}  "
               f"(95% CI {lo:.4f}-{hi:.4f}, {report.pairs} pairs)")
    click.echo(f"triples matched {report.matched}, predicted {report.predicted_triples}, "
               f"gold {report.gold_triples}; mean sentence F1 {report.mean_sentence_f1:.4f}")
    sentences = extra["sentences"]
    if sentences["same_in_normal_form"] or sentences["different"]:
        click.echo(f"sentences differing from the gold only in normal form: "
                   f"{sentences['same_in_normal_form']}"
                   + (f"; truly different (scored by position, --align order): "
                      f"{sentences['different']}" if sentences["different"] else ""))
    click.echo(f"read leniently (the reference reads them; visempar's strict reader does not): "
               f"{len(extra['read_leniently'])}")
    for row in extra["read_leniently"][:5]:
        click.echo(f"  block {row['index'] + 1} (line {row['line']}): {row['reason']}")
    click.echo(f"invalid predictions (the reference cannot read them; scored as empty): "
               f"{report.invalid}")
    for bad in extra["invalid_predictions"][:10]:
        click.echo(f"  block {bad['index'] + 1} (line {bad['line']}): {bad['problem']}")
    if normalize_concepts:
        click.echo(f"concepts respelled to the gold convention: {extra['concepts_respelled']}")
    click.echo(f"alignment: {report.alignment}")
    _echo_fine(report.fine)
    _write_json(json_out, {"metric": metric, **extra, **report.to_dict()})


def _echo_fine(fine: dict | None) -> None:
    """The fine-grained components as a table (micro P/R/F1 and triple or item counts)."""
    if not fine:
        return
    from visempar.eval.fine import LABELS

    click.echo(f"{'component':<16} {'P':>6} {'R':>6} {'F1':>6}  {'matched':>7} {'pred':>6} {'gold':>6}")
    for name, row in fine.items():
        click.echo(f"{LABELS[name]:<16} {row['precision']:>6.4f} {row['recall']:>6.4f} "
                   f"{row['f1']:>6.4f}  {row['matched']:>7} {row['predicted']:>6} {row['gold']:>6}")
    repeated = [fine["smatch"][k] - fine["no_wsd"][k] for k in ("predicted", "gold")]
    if any(repeated):
        click.echo(f"Smatch counts repeated triples as the reference does ({repeated[0]} predicted, "
                   f"{repeated[1]} gold); the other components count each distinct triple once.")


def _progress(total: int, label: str, rate: bool = False):
    """A click progress bar (with its ETA) and the callback that advances it; with `rate`,
    the label also shows items per second."""
    import time

    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)
    start = time.perf_counter()

    def step(n: int) -> None:
        if rate:
            bar.label = f"{label} ({(bar.pos + n) / max(time.perf_counter() - start, 1e-9):.2f}/s)"
        bar.update(n)

    return bar, step


def _load_run(run_dir: str):
    from visempar.eval.generate import load_run

    return load_run(run_dir)


def _stops(stopped_by: dict) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in stopped_by.items()) or "nothing"


def _evaluate_run(run_dir, data_path, out_dir, json_out, **scoring):
    from visempar.amr import read_corpus
    from visempar.data.corpus import sample_path
    from visempar.eval.predict import evaluate_run

    total = len(read_corpus(data_path or sample_path("test")).examples)  # the gold first: fail fast
    loaded = _load_run(run_dir)
    out = Path(out_dir) if out_dir else Path(run_dir) / "eval"
    bar, step = _progress(total, "parsing")
    with bar:
        summary = evaluate_run(loaded, data_path, out, progress=step, **scoring)
    lo, hi = summary["f1_ci95"]
    gen = summary["generation"]
    click.echo(f"Smatch  P {summary['precision']:.4f}  R {summary['recall']:.4f}  F1 {summary['f1']:.4f}  "
               f"(95% CI {lo:.4f}-{hi:.4f}, {gen['sentences']} sentences, {summary['variant']})")
    click.echo(f"outputs: {gen['paths']}; needed repair {gen['needed_repair']} "
               f"({gen['repair_kinds']}); invalid after repair {summary['invalid']}")
    click.echo(f"generation {gen['sentences_per_second']} sentences/s, {gen['tokens_generated']} tokens, "
               f"stopped by {_stops(gen['stopped_by'])}; reports in {out}/")
    _echo_fine(summary.get("fine"))
    _write_json(json_out, summary)


@main.command()
@click.argument("a_path", metavar="A")
@click.argument("b_path", metavar="B")
@click.option("--gold", "gold_path", required=True, help="Gold file in the same block format.")
@click.option("--align", type=click.Choice(["sentences", "order"]), default="sentences", show_default=True)
@click.option("--samples", type=int, default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True)
@JSON_OUT
def compare(a_path, b_path, gold_path, align, samples, seed, json_out):
    """Is prediction file A better than B? Paired bootstrap over the sentences.

    Prints each file's corpus Smatch F1, the difference A - B with its 95% interval, and
    p: the share of resamples in which A does not beat B.
    """
    from visempar.eval.compare import paired_bootstrap
    from visempar.eval.files import score_files

    a, _ = score_files(a_path, gold_path, seed=seed, align=align)
    b, _ = score_files(b_path, gold_path, seed=seed, align=align)
    result = paired_bootstrap(a, b, samples=samples, seed=seed)
    lo, hi = result["ci"]
    click.echo(f"A {a_path}: F1 {a.f1:.4f}")
    click.echo(f"B {b_path}: F1 {b.f1:.4f}")
    click.echo(f"A - B = {result['delta']:+.4f} (95% CI {lo:+.4f} to {hi:+.4f}), p = {result['p']:.4f} "
               f"(share of {samples} paired resamples of {result['sentences']} sentences where A does not "
               f"beat B); better sentences: A {result['sentences_a_better']}, B {result['sentences_b_better']}")
    _write_json(json_out, {"a": str(a_path), "b": str(b_path), "gold": str(gold_path), **result})


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PRED...")
@click.option("--output", "out_path", required=True, help="The combined submission file.")
@click.option("--method", type=click.Choice(["select", "merge"]), default="select", show_default=True)
@click.option("--align", type=click.Choice(["sentences", "order"]), default="sentences", show_default=True)
@click.option("--gold", "gold_path", help="Also score every input and the result against this gold.")
@click.option("--seed", type=int, default=0, show_default=True)
@JSON_OUT
def ensemble(paths, out_path, method, align, gold_path, seed, json_out):
    """Combine prediction files of the same sentences into one submission.

    Each graph is repaired first. `select`: per sentence, the candidate with the highest
    mean Smatch to the others (MBR). `merge`: Graphene-style voting over aligned triples,
    each candidate tried as the pivot. Deterministic; blocks keep the first file's order.
    """
    import time

    from visempar.amr import format_graph
    from visempar.eval.ensemble import combine, read_candidates, wins
    from visempar.eval.files import score_files

    if len(paths) < 2:
        raise click.UsageError("give at least two prediction files")
    start = time.perf_counter()
    sentences = combine(read_candidates(paths, align), method, seed)
    seconds = time.perf_counter() - start
    tmp = Path(str(out_path) + ".partial")
    tmp.write_text("\n\n".join(f"#::snt {s.text}\n{format_graph(s.graph)}" for s in sentences) + "\n",
                   encoding="utf-8")
    tmp.replace(out_path)
    won = wins(sentences, len(paths))
    click.echo(f"{len(sentences)} sentences, {len(paths)} inputs, {method}, {seconds:.1f} s -> {out_path}")
    for path, n in zip(paths, won):
        click.echo(f"  {path}: {'chosen' if method == 'select' else 'pivot'} for {n} sentences")
    report = {"inputs": list(paths), "output": str(out_path), "method": method, "seconds": round(seconds, 2),
              "wins": dict(zip(paths, won)),
              "per_sentence": [{"index": i, "sentence": s.text, "chosen": s.chosen,
                                "agreement": [round(x, 4) for x in s.scores]} for i, s in enumerate(sentences)]}
    if gold_path:
        report["scores"] = {}
        for path in [*paths, out_path]:
            scored, _ = score_files(path, gold_path, seed=seed, align=align)
            report["scores"][str(path)] = {"precision": scored.precision, "recall": scored.recall,
                                           "f1": scored.f1, "invalid": scored.invalid}
            click.echo(f"  Smatch of {path}: F1 {scored.f1:.4f} (P {scored.precision:.4f}, "
                       f"R {scored.recall:.4f}, invalid {scored.invalid})")
    _write_json(json_out, report)


@main.command(name="repair")
@click.argument("in_path", type=click.Path())
@click.argument("out_path", type=click.Path(dir_okay=False))
@click.option("--concepts", type=click.Choice(["keep", "space", "underscore"]),
              default="space", show_default=True, help="Spelling of multi-word concepts.")
@JSON_OUT
def repair_(in_path, out_path, concepts, json_out):
    """Turn every graph of IN_PATH (model output, block format) into a valid graph.

    Sentences and block order are kept; each change is reported. Graphs written without
    variables get their bare references restored. The report says how many of the
    triples the reference scorer reads in the input survived (up to variable names and
    concept spelling).
    """
    from collections import Counter

    from visempar.amr import CorpusError, Example, format_graph, write_corpus
    from visempar.amr.io import iter_blocks, read_text
    from visempar.amr.lenient import as_read_from_file
    from visempar.amr.repair import repair
    from visempar.eval.smatch import kept_triples

    blocks = list(iter_blocks(read_text(in_path)))
    if not blocks:
        raise CorpusError(f"{in_path}: no sentence/graph blocks found (empty file?)")
    examples, rows, kinds = [], [], Counter()
    for i, block in enumerate(blocks):
        result = repair(block.graph_text, None if concepts == "keep" else concepts)
        examples.append(Example(block.sentence, result.graph, str(in_path), block.line))
        kinds.update(result.kinds)
        kept = kept_triples(as_read_from_file(block.graph_text),
                            format_graph(result.graph, "oneline"))
        rows.append({"index": i, "line": block.line, "changes": result.changes,
                     "empty": result.empty, "restored_references": result.restored,
                     "readable_triples": kept and {"kept": kept[0], "total": kept[1]}})
    write_corpus(out_path, examples)
    changed = sum(1 for r in rows if r["changes"])
    readable = [r["readable_triples"] for r in rows if r["readable_triples"]]
    kept, total = sum(k["kept"] for k in readable), sum(k["total"] for k in readable)
    restored = sum(r["restored_references"] for r in rows)
    click.echo(f"{len(rows)} graphs written to {out_path}; {changed} repaired, "
               f"{sum(r['empty'] for r in rows)} without any graph")
    click.echo(f"the reference reads {len(readable)} of {len(rows)} inputs; their triples kept: "
               f"{kept} of {total}" + (f" ({kept / total:.1%})" if total else ""))
    click.echo(f"bare references restored: {restored} "
               f"(in {sum(r['restored_references'] > 0 for r in rows)} graphs)")
    for kind, n in kinds.most_common():
        click.echo(f"  {kind}: {n}")
    _write_json(json_out, {"input": str(in_path), "output": str(out_path), "graphs": len(rows),
                           "repaired": changed, "kinds": dict(kinds),
                           "readable_inputs": len(readable),
                           "readable_triples": {"kept": kept, "total": total},
                           "restored_references": restored, "blocks": rows})




# -- training, preflight, parsing ---------------------------------------------------------

def train_options(fn):
    """The config and the common overrides, shared by `train` and `preflight`."""
    options = [
        click.option("--config", "config_path", help="YAML config: a path or a name under configs/ "
                     "(default: configs/MODEL-VARIANT.yaml for `tiny` and `smollm2`)."),
        click.option("--model", help="`tiny` (built offline), `smollm2` (bundled SmolLM2-135M-Instruct), "
                     "a .gguf file, a local directory or a hub name."),
        click.option("--variant", type=click.Choice(["baseline", "mtup"])),
        click.option("--data", "train_data", type=click.Path(),
                     help="Training corpus (default: the bundled sample train split)."),
        click.option("--eval-data", type=click.Path(),
                     help="Evaluation corpus (default: the bundled sample dev split)."),
        click.option("--output-dir", type=click.Path(file_okay=False)),
        click.option("--learning-rate", type=float),
        click.option("--max-length", type=int),
        click.option("--adapter-dtype", type=click.Choice(["float32", "bfloat16"])),
        click.option("--gradient-accumulation-steps", type=int),
        click.option("--batch-size", "per_device_train_batch_size", type=int),
        click.option("--epochs", "num_train_epochs", type=float),
        click.option("--max-steps", type=int),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Override any config key (repeatable)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _config(config_path, settings, **flags):
    import yaml

    from visempar.config import default_config_name, load_config

    overrides = {k: v for k, v in flags.items() if v is not None}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = yaml.safe_load(value)
    if config_path is None:
        config_path = default_config_name(overrides.get("model"), overrides.get("variant"))
    return load_config(config_path, overrides)


def _preflight_failure(report, strict: bool) -> str:
    """One line: the failed checks and the first one's reason."""
    failed = report.failed(strict)
    return (f"preflight failed: {', '.join(c.id for c in failed)}; {failed[0].id}: {failed[0].reason} "
            "(see the table above)")


def _run_preflight(config, strict: bool, json_out: str | None):
    from visempar.preflight.checks import preflight

    report, prepared = preflight(config, log=lambda m: click.echo(m, err=True))
    click.echo(report.table())
    _write_json(json_out, report.to_dict())
    return report, prepared


@main.command()
@train_options
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@JSON_OUT
def preflight(config_path, settings, strict, json_out, **flags):
    """Build exactly the training stack and prove that it trains, in seconds.

    Exit 0 when no check fails, 1 when one does (--strict: or warns).
    """
    from visempar.model.device import set_threads

    config = _config(config_path, settings, **flags)
    set_threads(config.cpu_threads)
    report, _ = _run_preflight(config, strict, json_out)
    if report.failed(strict):
        raise click.ClickException(_preflight_failure(report, strict))


@main.command()
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
    """
    import os

    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported
    from visempar.train.run import is_main_process, summary_line
    from visempar.train.run import train as run_training

    from visempar.model.device import set_threads

    config = _config(config_path, settings, **flags)
    set_threads(config.cpu_threads)
    prepared = None
    if not skip_preflight:
        report, prepared = _run_preflight(config, strict, None) if is_main_process() else (None, None)
        if report is not None and report.failed(strict):
            raise click.ClickException(_preflight_failure(report, strict)
                                       + " (--skip-preflight to train anyway)")
    summary = run_training(config, resume=resume, force=force, overwrite=overwrite,
                           prepared=prepared, log=lambda m: click.echo(m, err=True))
    if is_main_process():
        click.echo(summary_line(summary))
    sys.exit(summary["exit_code"])


@main.command()
@click.option("--run", "run_dir", type=click.Path(), required=True)
@click.option("--input", "input_path", type=click.Path(), required=True,
              help="One sentence per line (the challenge's test files).")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), required=True,
              help="Submission file: a #::snt + graph block per input line, in order.")
@click.option("--normalize-input", type=click.Choice(["none", "spaces", "lower"]),
              help="Input spelling: `spaces` turns word-segmentation `_` into spaces "
                   "(default: the run's input_normalization).")
@click.option("--batch-size", type=int, help="Generation batch size (default: the run's).")
@click.option("--resume", is_flag=True, help="Go on from OUTPUT.partial of an interrupted run.")
@click.option("--samples", type=int, default=0, show_default=True,
              help="Also N sampled generations per sentence; keep the candidate with the highest "
                   "mean Smatch to the others (MBR).")
@JSON_OUT
def predict(run_dir, input_path, output_path, normalize_input, batch_size, resume, samples, json_out):
    """Parse INPUT with a trained RUN into the challenge's submission format.

    Blocks are written as they are finished, to OUTPUT.partial; OUTPUT appears when all
    are done. After a crash, Ctrl-C or SIGTERM, --resume goes on where it stopped.
    """
    import signal

    from visempar.eval.predict import predict_file, read_sentence_lines

    sentences = read_sentence_lines(input_path)
    loaded = _load_run(run_dir)
    bar, step = _progress(sum(1 for s in sentences if s.strip()), "parsing", rate=True)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with bar:
            preds, resumed = predict_file(loaded, sentences, output_path, resume=resume,
                                          normalization=normalize_input, batch_size=batch_size,
                                          samples=samples, progress=step)
    except KeyboardInterrupt:
        raise click.ClickException(f"interrupted: the finished blocks are kept in {output_path}.partial; "
                                   "run the same command with --resume to go on") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = {**preds.report(), "samples": samples, "resumed_blocks": resumed, "output": str(output_path)}
    click.echo(f"{len(sentences)} blocks written to {output_path}"
               + (f" ({resumed} from an earlier run)" if resumed else "")
               + f"; {report['sentences_per_second']} sentences/s, {report['tokens_generated']} tokens, "
               f"stopped by {_stops(report['stopped_by'])}; outputs {report['paths']}, "
               f"needed repair {report['needed_repair']}")
    _write_json(json_out, report)


@main.command()
@click.option("--run", "run_dir", type=click.Path(), required=True)
@click.option("--merge", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory for the merged model (HF format, with the tokenizer).")
def export(run_dir, out_dir):
    """Merge a run's adapter into its base model and save it in HF format."""
    from visempar.eval.generate import load_run

    loaded = load_run(run_dir, merged=True)
    loaded.model.save_pretrained(out_dir)
    loaded.tokenizer.save_pretrained(out_dir)
    click.echo(f"merged model written to {out_dir}")


if __name__ == "__main__":
    main()
