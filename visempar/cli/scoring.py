"""`visempar evaluate`, `compare`, `ensemble` and `repair`: prediction files and scores."""

from __future__ import annotations

import json
from pathlib import Path

import click

from visempar.amr.format import format_graph

from visempar.cli.common import (AFTER_DECODING_SET, ALIGN, FITTED_RUN, JSON_OUT, PASSES_OPTION, after_decoding,
                                 chosen_passes, guard, json_output, load_run, progress, stops, write_report)
from visempar.outputs import EVAL_FILES, Output, run_files


@click.command()
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
@click.option("--restarts", type=click.IntRange(0, 100), default=4, show_default=True,
              help="Random restarts of the hill-climbing alignment (the reference uses 4).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the restarts and of the bootstrap: same files, same score.")
@click.option("--exact", is_flag=True,
              help="Also prove each alignment optimal by branch and bound (the reference's "
                   "hill-climbing can miss the optimum).")
@click.option("--normalize-concepts", is_flag=True,
              help="Respell multi-word concepts of the predictions to the gold convention.")
@ALIGN
@click.option("--samples", type=click.IntRange(0, 64), default=0, show_default=True,
              help="With --run: also N sampled generations per sentence, MBR-selected.")
@AFTER_DECODING_SET
@JSON_OUT
@click.option("--html", "html_out", type=click.Path(dir_okay=False),
              help="Also write a report page: every prediction drawn beside its gold graph, coloured by "
                   "the alignment, with the fine components (one HTML file, no network needed).")
def evaluate(metric, pred_path, gold_path, run_dir, data_path, out_dir, restarts, seed, exact,
             normalize_concepts, align, samples, after, json_out, html_out):
    """Corpus-level Smatch of PREDICTIONS against GOLD, or of a trained RUN on a gold file.

    With --metric fine, also the fine-grained components (see visempar/scoring/fine.py).

    Every gold graph counts: an empty, garbage or malformed prediction scores zero matched
    triples and is listed. Misaligned files are an error.

    \b
    Examples:
      visempar evaluate --predictions results.txt --gold gold.txt --html report.html
      visempar evaluate --metric fine --run runs/my-run --data dev.txt
    """
    eval_out = (Output("--out", out_dir or Path(run_dir) / "eval", folder=True, writes=EVAL_FILES)
                if run_dir else None)
    guard({"--predictions": pred_path, "--gold": gold_path, "--data": data_path, "--run": run_files(run_dir)},
          eval_out, json_output(json_out), Output("--html", html_out) if html_out else None)
    if html_out:
        from visempar.report.html import drawing_check

        drawing_check()  # before any work: graphs can be drawn here
    scoring = dict(restarts=restarts, seed=seed, fine=metric == "fine" or bool(html_out), exact=exact,
                   normalize=normalize_concepts, align=align)
    if run_dir:
        if pred_path or gold_path:
            raise click.UsageError("--run parses the sentences itself: use --data, not --predictions/--gold")
        return _evaluate_run(run_dir, data_path, out_dir, json_out, html_out, after_decoding(after),
                             samples=samples, shown_fine=metric == "fine", **scoring)
    if after:
        raise click.UsageError("--set changes a run's passes after decoding: it goes with --run")
    if not (pred_path and gold_path):
        raise click.UsageError("give --predictions and --gold, or --run")
    from visempar.scoring.files import score_files

    report, extra = score_files(pred_path, gold_path, **scoring)
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
    _echo_fine(report.fine if metric == "fine" else None)
    write_report(json_out, {"metric": metric, **extra, **report.to_dict(),
                            **({} if metric == "fine" else {"fine": None})})
    if html_out:
        from visempar.amr.io import read_blocks
        from visempar.report.html import write_page

        write_page(html_out, pred_path, [b.graph_text for b in read_blocks(gold_path)], report,
                   f"{pred_path} against {gold_path}", seed=seed, restarts=restarts)
        click.echo(f"report page written to {html_out}", err=True)


def _evaluate_run(run_dir, data_path, out_dir, json_out, html_out, passes, shown_fine, **scoring):
    from visempar.amr import read_corpus
    from visempar.data.corpus import sample_path
    from visempar.infer.predict import evaluate_run

    gold = read_corpus(data_path or sample_path("test"))  # before the model loads: fail fast
    loaded = load_run(run_dir, passes=passes)
    out = Path(out_dir) if out_dir else Path(run_dir) / "eval"
    bar, step = progress(len(gold), "parsing")
    with bar:
        summary, report = evaluate_run(loaded, gold, out, progress=step, **scoring)
    if not shown_fine:
        summary.pop("fine", None)
    if html_out:
        from visempar.report.html import write_page

        rows = json.loads((out / "per_sentence.json").read_text(encoding="utf-8"))["per_sentence"]
        write_page(html_out, out / "predictions.txt", [e.text or format_graph(e.graph) for e in gold.examples],
                   report, f"run {run_dir} on {gold.path}", run_rows=rows, seed=scoring["seed"],
                   restarts=scoring["restarts"])
        click.echo(f"report page written to {html_out}", err=True)
    lo, hi = summary["f1_ci95"]
    gen = summary["generation"]
    click.echo(f"Smatch  P {summary['precision']:.4f}  R {summary['recall']:.4f}  F1 {summary['f1']:.4f}  "
               f"(95% CI {lo:.4f}-{hi:.4f}, {gen['sentences']} sentences, {summary['variant']})")
    click.echo(f"outputs: {gen['paths']}; needed repair {gen['needed_repair']} "
               f"({gen['repair_kinds']}); invalid after repair {summary['invalid']}")
    click.echo(f"generation {gen['sentences_per_second']} sentences/s, {gen['tokens_generated']} tokens, "
               f"stopped by {stops(gen['stopped_by'])}; reports in {out}/")
    _echo_fine(summary.get("fine"))
    write_report(json_out, summary)


def _echo_fine(fine: dict | None) -> None:
    """The fine-grained components as a table (micro P/R/F1 and triple or item counts)."""
    if not fine:
        return
    from visempar.scoring.fine import LABELS

    click.echo(f"{'component':<16} {'P':>6} {'R':>6} {'F1':>6}  {'matched':>7} {'pred':>6} {'gold':>6}")
    for name, row in fine.items():
        click.echo(f"{LABELS[name]:<16} {row['precision']:>6.4f} {row['recall']:>6.4f} "
                   f"{row['f1']:>6.4f}  {row['matched']:>7} {row['predicted']:>6} {row['gold']:>6}")
    repeated = [fine["smatch"][k] - fine["no_wsd"][k] for k in ("predicted", "gold")]
    if any(repeated):
        click.echo(f"Smatch counts repeated triples as the reference does ({repeated[0]} predicted, "
                   f"{repeated[1]} gold); the other components count each distinct triple once.")


@click.command()
@click.argument("a_path", metavar="A")
@click.argument("b_path", metavar="B")
@click.option("--gold", "gold_path", required=True, help="Gold file in the same block format.")
@ALIGN
@click.option("--samples", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the resamples and the alignments: same files, same figures.")
@JSON_OUT
def compare(a_path, b_path, gold_path, align, samples, seed, json_out):
    """Is prediction file A better than B? Paired bootstrap over the sentences.

    Prints each file's corpus Smatch F1, the difference A - B with its 95% interval, and
    p: the share of resamples in which A does not beat B.

    \b
    Example:
      visempar compare new/predictions.txt old/predictions.txt --gold dev.txt
    """
    guard({"A": a_path, "B": b_path, "--gold": gold_path}, json_output(json_out))
    from visempar.amr import read_corpus
    from visempar.scoring.compare import paired_bootstrap
    from visempar.scoring.files import score_files

    gold = read_corpus(gold_path)
    a, _ = score_files(a_path, gold, seed=seed, align=align)
    b, _ = score_files(b_path, gold, seed=seed, align=align)
    result = paired_bootstrap(a, b, samples=samples, seed=seed)
    lo, hi = result.ci
    click.echo(f"A {a_path}: F1 {a.f1:.4f}")
    click.echo(f"B {b_path}: F1 {b.f1:.4f}")
    click.echo(f"A - B = {result.delta:+.4f} (95% CI {lo:+.4f} to {hi:+.4f}), p = {result.p:.4f} "
               f"(share of {samples} paired resamples of {result.sentences} sentences where A does not "
               f"beat B); better sentences: A {result.sentences_a_better}, B {result.sentences_b_better}")
    write_report(json_out, {"a": str(a_path), "b": str(b_path), "gold": str(gold_path), **result.to_dict()})


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PRED...")
@click.option("--output", "out_path", required=True, help="The combined submission file.")
@click.option("--method", type=click.Choice(["select", "merge"]), default="select", show_default=True,
              help="select: per sentence, one system's graph (weighted MBR); merge: vote on aligned triples.")
@click.option("--weights", help="System weights, one per PRED, separated by commas (e.g. 3,2,1).")
@click.option("--dev", "dev_paths", multiple=True, type=click.Path(),
              help="The same systems' outputs on a dev set, one --dev per PRED in the same order: "
                   "weights and thresholds are tuned there (with --dev-gold).")
@click.option("--dev-gold", type=click.Path(), help="The gold graphs of the dev set.")
@ALIGN
@click.option("--gold", "gold_path", help="Also score every input and the result against this gold.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the alignments: same files, same result.")
@PASSES_OPTION
@FITTED_RUN
@JSON_OUT
def ensemble(paths, out_path, method, weights, dev_paths, dev_gold, align, gold_path, seed, pass_names, fitted_run,
             json_out):
    """Combine prediction files of the same sentences into one submission.

    Each graph is repaired first. Systems are weighted: by --weights, by their dev F1 with
    --dev/--dev-gold (thresholds tuned on dev too), else by how much each agrees with the
    others. `select`: per sentence, the candidate with the highest expected Smatch (weighted
    MBR), kept over the heaviest system's only above a margin. `merge`: weighted voting
    over aligned triples on the heaviest system's graph. Deterministic; blocks keep the
    first file's order.

    \b
    Example:
      visempar ensemble a.txt b.txt c.txt --output combined.txt --method select --gold dev.txt
    """
    from visempar.combine.ensemble import ensemble_files

    if len(paths) < 2:
        raise click.UsageError("give at least two prediction files")
    guard({"PRED": paths, "--dev": dev_paths, "--dev-gold": dev_gold, "--gold": gold_path,
           "--run": [Path(fitted_run) / "lexicon.json"] if fitted_run else None},
          Output("--output", out_path), json_output(json_out))
    passes, fitted = chosen_passes(pass_names, fitted_run)
    report = ensemble_files(paths, out_path, method, align=align, seed=seed, gold=gold_path,
                            weights=_weights(weights), dev=dev_paths, dev_gold=dev_gold, passes=passes,
                            fitted=fitted)
    plan = report["plan"]
    click.echo(f"{report['sentences']} sentences, {len(paths)} inputs, {method}, "
               f"{report['seconds']:.1f} s -> {out_path}")
    click.echo(f"  weights ({plan['source']}): {', '.join(f'{w:.3f}' for w in plan['weights'])}; pivot "
               f"{paths[plan['pivot']]}" + (f"; chosen on dev: F1 {report['dev_f1']:.4f}, inputs "
                                            f"{', '.join(f'{x:.4f}' for x in report['dev_inputs_f1'])}"
                                            if "dev_f1" in report else ""))
    for path, n in report["wins"].items():
        if method == "select":
            click.echo(f"  {path}: chosen for {n} sentences")
    if method == "merge":
        c = report["contribution"]
        click.echo(f"  pivot {c['pivot']}: {c['kept']} triples kept, {c['dropped']} dropped; added: "
                   + ", ".join(f"{p} {n}" for p, n in c["added_by"].items()))
    for key, done in report.get("passes", {}).items():
        click.echo(f"  pass {key}: {done['changes']} changes in {done['graphs']} graphs")
    for path, scored in report.get("scores", {}).items():
        click.echo(f"  Smatch of {path}: F1 {scored['f1']:.4f} (P {scored['precision']:.4f}, "
                   f"R {scored['recall']:.4f}, invalid {scored['invalid']})")
    if "warning" in report:
        click.echo(f"warning: {report['warning']}", err=True)
    write_report(json_out, report)


def _weights(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise click.UsageError(f"--weights: numbers separated by commas, got {text!r}") from None


@click.command()
@click.argument("in_path", type=click.Path())
@click.argument("out_path", type=click.Path(dir_okay=False))
@click.option("--concepts", type=click.Choice(["keep", "space", "underscore"]),
              default="space", show_default=True, help="Spelling of multi-word concepts.")
@PASSES_OPTION
@FITTED_RUN
@JSON_OUT
def repair(in_path, out_path, concepts, pass_names, fitted_run, json_out):
    """Turn every graph of IN_PATH (model output, block format) into a valid graph.

    Sentences and block order are kept; each change is reported. Graphs written without
    variables get their bare references restored. With --passes, the chosen passes after
    decoding then read each block's sentence, for any system's output. The report says
    how many of the triples the reference scorer reads in the input survived (up to
    variable names and concept spelling).

    \b
    Example:
      visempar repair raw_outputs.txt submission.txt --passes names,copy_words --json repair.json
    """
    guard({"IN_PATH": in_path, "--run": [Path(fitted_run) / "lexicon.json"] if fitted_run else None},
          Output("OUT_PATH", out_path), json_output(json_out))
    passes, fitted = chosen_passes(pass_names, fitted_run)
    from visempar.combine.repair_file import repair_file

    report = repair_file(in_path, out_path, None if concepts == "keep" else concepts, passes, fitted)
    kept, total = report.kept, report.total
    click.echo(f"{report.graphs} graphs written to {out_path}; {report.repaired} repaired, "
               f"{report.without_graph} without any graph")
    click.echo(f"the reference reads {report.readable_inputs} of {report.graphs} inputs; their "
               f"triples kept: {kept} of {total}" + (f" ({kept / total:.1%})" if total else ""))
    click.echo(f"bare references restored: {report.restored_references} "
               f"(in {report.graphs_with_restored_references} graphs)")
    for kind, n in report.kinds.items():
        click.echo(f"  {kind}: {n}")
    for key, done in report.passes.items():
        click.echo(f"pass {key}: {done['changes']} changes in {done['graphs']} graphs")
    write_report(json_out, report.to_dict())
