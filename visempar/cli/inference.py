"""`visempar predict` and `visempar export`: a trained run put to use."""

from __future__ import annotations

import os

import click

from visempar.cli.common import (AFTER_DECODING_SET, JSON_OUT, after_decoding, guard, json_output, load_run,
                                 progress, stops, write_report)


@click.command()
@click.option("--run", "run_dir", type=click.Path(), required=True,
              help="A run folder written by `visempar train`.")
@click.option("--input", "input_path", type=click.Path(), required=True,
              help="One sentence per line (the challenge's test files).")
@click.option("--output", "output_path", type=click.Path(dir_okay=False), required=True,
              help="Submission file: a #::snt + graph block per input line, in order.")
@click.option("--normalize-input", type=click.Choice(["none", "spaces", "lower"]),
              help="Input spelling: `spaces` turns word-segmentation `_` into spaces "
                   "(default: the run's input_normalization).")
@click.option("--batch-size", type=click.IntRange(1, 1024), help="Generation batch size (default: the run's).")
@click.option("--resume", is_flag=True, help="Go on from OUTPUT.partial of an interrupted run.")
@click.option("--samples", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Also N sampled generations per sentence; keep the candidate with the highest "
                   "mean Smatch to the others (MBR).")
@AFTER_DECODING_SET
@JSON_OUT
def predict(run_dir, input_path, output_path, normalize_input, batch_size, resume, samples, after, json_out):
    """Parse INPUT with a trained RUN into the challenge's submission format.

    Blocks are written as they are finished, to OUTPUT.partial; OUTPUT appears when all
    are done. After a crash, Ctrl-C or SIGTERM, --resume goes on where it stopped.

    \b
    Example:
      visempar predict --run runs/my-run --input public_test.txt --output results.txt
    """
    import signal

    from visempar.infer.predict import predict_file, read_sentence_lines

    from visempar.outputs import Output, run_files

    guard({"--input": input_path, "--run": run_files(run_dir)},
          Output("--output", output_path, beside=(".partial", ".partial.json", ".lock")), json_output(json_out))
    passes = after_decoding(after)
    sentences = read_sentence_lines(input_path)
    from visempar.infer.load import overlong_sentences

    limit, overlong = overlong_sentences(run_dir, sentences)
    if overlong:
        shown = ", ".join(f"{input_path}:{line} ({n} tokens)" for line, n in overlong[:3])
        click.echo(f"warning: {len(overlong)} sentence(s) longer than anything the run was trained on "
                   f"(a prompt of {limit} tokens or more): {shown}{', ...' if len(overlong) > 3 else ''}; "
                   "their graphs will be poor: split such lines into sentences", err=True)
    loaded = load_run(run_dir, passes=passes)
    bar, step = progress(sum(1 for s in sentences if s.strip()), "parsing", rate=True)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with bar:
            preds, resumed = predict_file(loaded, sentences, output_path, resume=resume,
                                          normalization=normalize_input, batch_size=batch_size,
                                          samples=samples, progress=step,
                                          log=lambda m: click.echo(m, err=True))
    except KeyboardInterrupt:
        from visempar.cli import Interrupted

        raise Interrupted(f"interrupted: the finished blocks are kept in {output_path}.partial; "
                          "run the same command with --resume to go on") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = {**preds.report(), "samples": samples, "resumed_blocks": resumed, "output": str(output_path)}
    click.echo(f"{len(sentences)} blocks written to {output_path}"
               + (f" ({resumed} from an earlier run)" if resumed else "")
               + f"; {report['sentences_per_second']} sentences/s, {report['tokens_generated']} tokens, "
               f"stopped by {stops(report['stopped_by'])}; outputs {report['paths']}, "
               f"needed repair {report['needed_repair']}")
    write_report(json_out, report)


@click.command()
@click.option("--run", "run_dir", type=click.Path(), required=True,
              help="A run folder written by `visempar train`.")
@click.option("--merge", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Directory for the merged model (HF format, with the tokenizer).")
@click.option("--overwrite", is_flag=True, help="Replace what a non-empty --merge folder holds.")
def export(run_dir, out_dir, overwrite):
    """Merge a run's adapter into its base model and save it in HF format.

    \b
    Example:
      visempar export --run runs/my-run --merge merged-model
    """
    from pathlib import Path

    from visempar.model.cache import cache_root

    out, run = Path(out_dir).resolve(), Path(run_dir).resolve()
    for kept, what in ((run, "the run"), (cache_root().resolve(), "visempar's model cache")):
        if out == kept or kept in out.parents:
            raise click.ClickException(f"--merge {out_dir} is inside {what} ({kept}); "
                                       "choose a folder of its own")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise click.ClickException(f"--merge {out_dir} is not empty; choose an empty folder, or pass --overwrite")
    from visempar.outputs import Output, run_files

    guard({"--run": run_files(run_dir)}, Output("--merge", out_dir, folder=True, writes=("config.json",)))
    loaded = load_run(run_dir, merged=True)
    save_folder(out, lambda tmp: (loaded.model.save_pretrained(tmp), loaded.tokenizer.save_pretrained(tmp)))
    click.echo(f"merged model written to {out_dir}")


def save_folder(out, save) -> None:
    """`save(folder)` into a hidden folder beside `out`, which then replaces `out` whole: a
    failed save (a full disk) leaves `out` as it was and no partial folder behind."""
    import shutil
    import tempfile
    from pathlib import Path

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        save(tmp)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(e.errno, e.strerror or str(e), str(out)) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
