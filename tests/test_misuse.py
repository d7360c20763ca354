"""Misuse refused before anything runs: values out of range, outputs that are inputs,
folders that must not be written into. One `Error:` line, exit 1, nothing written."""

import pytest
from click.testing import CliRunner

from visempar.cli import main
from visempar.data.corpus import sample_path

GOLD = str(sample_path("test"))


def error_of(*args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1].startswith("Error: ")
    return lines[-1]


@pytest.mark.parametrize("args, message", [
    (["predict", "--run", "r", "--input", "i", "--output", "o", "--batch-size", "0"],
     "Error: Invalid value for '--batch-size': 0 is not in the range 1<=x<=1024."),
    (["predict", "--run", "r", "--input", "i", "--output", "o", "--samples", "-2"],
     "Error: Invalid value for '--samples': -2 is not in the range 0<=x<=64."),
    (["evaluate", "--predictions", GOLD, "--gold", GOLD, "--restarts", "-1"],
     "Error: Invalid value for '--restarts': -1 is not in the range 0<=x<=100."),
    (["compare", GOLD, GOLD, "--gold", GOLD, "--samples", "0"],
     "Error: Invalid value for '--samples': 0 is not in the range 1<=x<=100000."),
    (["data", "split", GOLD, "--dev-fraction", "1.5", "--out", "x"],
     "Error: Invalid value for '--dev-fraction': 1.5 is not in the range 0<x<1."),
    (["data", "split", GOLD, "--dev-fraction", "0.99", "--out", "x"],
     "Error: --dev-fraction 0.99 of 25 examples leaves the training side empty"),
    (["preflight", "--set", "weight_decay=nan"], "Error: command line: weight_decay must be a finite number, got nan"),
    (["preflight", "--set", "max_grad_norm=-1"], "Error: command line: max_grad_norm must not be negative, got -1.0"),
    (["preflight", "--set", "top_p=0"], "Error: command line: temperature must be positive and top_p in (0, 1], got 1.0 and 0.0"),
    (["preflight", "--set", "save_total_limit=0"], "Error: command line: save_total_limit must be positive, got 0"),
    (["preflight", "--set", "max_steps=-5"],
     "Error: command line: max_steps is a number of optimizer steps, or 0 or -1 to train num_train_epochs, got -5"),
    (["preflight", "--set", "seed=-1"], "Error: command line: seed must not be negative, got -1"),
    (["train", "--bogus"], "Error: No such option '--bogus'."),
    (["train", "--config", "smollm2-vlsp-varfree", "--variant", "mtup"],  # mtup would ignore graph_format
     "Error: smollm2-vlsp-varfree: graph_format: varfree-concepts is for the baseline variant; mtup writes "
     "task 1 without variables and task 2 in PENMAN (set graph_format: penman, or variant: baseline)"),
    (["preflight", "--variant", "mtup", "--set", "graph_format=varfree"],
     "Error: tiny-mtup: graph_format: varfree is for the baseline variant; mtup writes "
     "task 1 without variables and task 2 in PENMAN (set graph_format: penman, or variant: baseline)"),
])
def test_values_out_of_range_are_one_error_line_before_anything_loads(tmp_path, args, message):
    assert error_of(*args) == message
    assert not (tmp_path / "x").exists()


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path):
    gold = tmp_path / "gold.txt"
    text = sample_path("test").read_text(encoding="utf-8")
    gold.write_text(text, encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(gold)
    cases = [
        (["evaluate", "--predictions", gold, "--gold", gold, "--json", gold], "--json"),
        (["evaluate", "--predictions", gold, "--gold", gold, "--json", link], "--json"),
        (["repair", gold, gold], "OUT_PATH"),
        (["compare", gold, gold, "--gold", gold, "--json", gold], "--json"),
        (["ensemble", gold, gold, "--output", gold], "--output"),
        (["predict", "--run", tmp_path, "--input", gold, "--output", gold], "--output"),
    ]
    for args, option in cases:
        assert error_of(*args).startswith(f"Error: {option} ")
        assert "is an input of this command" in error_of(*args)
    assert gold.read_text(encoding="utf-8") == text and link.is_symlink()


def test_a_report_written_to_a_symlink_goes_through_it(tmp_path):
    target = tmp_path / "reports" / "score.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    res = CliRunner().invoke(main, ["evaluate", "--predictions", GOLD, "--gold", GOLD, "--json", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and '"f1": 1.0' in target.read_text()


def test_export_refuses_the_run_the_model_cache_and_a_full_folder(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VISEMPAR_CACHE", str(cache))
    run = tmp_path / "run"
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    assert error_of("export", "--run", run, "--merge", run / "merged").startswith(
        f"Error: --merge {run / 'merged'} is inside the run")
    assert "is inside visempar's model cache" in error_of("export", "--run", run, "--merge", cache / "models" / "m")
    assert error_of("export", "--run", run, "--merge", full) == (
        f"Error: --merge {full} is not empty; choose an empty folder, or pass --overwrite")
    assert (full / "keep.txt").read_text() == "mine"


def test_predict_writes_through_a_symlinked_output(trained_run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("trời mưa .\n", encoding="utf-8")
    target = tmp_path / "subs" / "run1.txt"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.txt"
    link.symlink_to(target)
    res = CliRunner().invoke(main, ["predict", "--run", str(trained_run), "--input", str(src), "--output", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.read_text(encoding="utf-8").startswith("#::snt trời mưa .\n")


def test_a_corpus_given_as_sentences_is_refused_before_the_run_loads(tmp_path):
    assert error_of("predict", "--run", tmp_path / "no-run", "--input", GOLD, "--output", tmp_path / "o.txt") == (
        f"Error: {GOLD}:1: '#::snt tôi muốn học tiếng anh .' is a graph file's line, not a sentence; "
        "predict takes one sentence per line (to parse a corpus's sentences and score them, use "
        "`visempar evaluate --run RUN --data FILE`)")
    graphs = tmp_path / "graphs.txt"
    graphs.write_text("trời mưa .\n(m / mưa :agent (t / trời))\n", encoding="utf-8")
    assert error_of("predict", "--run", tmp_path / "no-run", "--input", graphs, "--output",
                    tmp_path / "o.txt").startswith(f"Error: {graphs}:2: '(m / mưa")
    assert not (tmp_path / "o.txt").exists()


def test_a_second_train_into_a_run_folder_being_written_is_refused(tiny_model, tmp_path):
    from tests.conftest import hold_lock, tiny_config
    from visempar.locks import LockedError
    from visempar.train.run import train

    out = tmp_path / "run"
    with hold_lock(tmp_path / "run.lock") as holder:
        with pytest.raises(LockedError, match=f"run folder {out} is being written by process {holder.pid}"):
            train(tiny_config(tiny_model, out), log=lambda *_: None)
        holder.kill()
    assert not out.exists()


def test_a_lock_left_by_a_dead_writer_is_taken_over_whatever_process_has_its_id_now(tmp_path):
    """The lock file names a process that is alive (this test's parent) but holds no lock:
    its writer died and the id was reused. The kernel lock says the output is free."""
    import os

    from visempar.locks import OutputLock

    lock = tmp_path / "out.txt.lock"
    lock.write_text(str(os.getppid()))
    said = []
    with OutputLock(lock, "output out.txt", said.append):
        assert lock.read_text() == str(os.getpid())
    assert said == [f"output out.txt: taking over the lock {lock} of process {os.getppid()}, which no longer runs"]
    assert not lock.exists()


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch):
    import visempar.scoring.files as files

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "score_files", interrupted)
    res = CliRunner().invoke(main, ["evaluate", "--predictions", GOLD, "--gold", GOLD])
    assert res.exit_code == 130 and res.output.strip().splitlines()[-1] == "Error: interrupted"


def test_a_training_block_without_a_sentence_is_refused(tmp_path):
    data = tmp_path / "train.txt"
    data.write_text("(m / mưa :agent (t / trời))\n\n#::snt tôi đi .\n(đ / đi :agent (t / tôi))\n", encoding="utf-8")
    assert (f"{data}:1: a block without a `#::snt` sentence (1 such block(s)): a training or eval "
            "example needs the sentence its graph is for") in error_of("preflight", "--data", data)


def _commands():
    import click

    ctx = click.Context(main)

    def walk(cmd, name):
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, sub), f"{name} {sub}")
        else:
            yield name, cmd

    for n in main.list_commands(ctx):
        yield from walk(main.get_command(ctx, n), n)


def test_every_option_says_what_it_does_and_every_command_shows_an_example():
    import click

    missing = {name: [p.name for p in cmd.params if isinstance(p, click.Option) and not p.help]
               for name, cmd in _commands()}
    assert {k: v for k, v in missing.items() if v} == {}
    no_example = [name for name, cmd in _commands() if f"visempar {name}" not in (cmd.help or "")
                  or "Example" not in (cmd.help or "")]
    assert no_example == []


@pytest.mark.parametrize("args, last", [
    (["evalute"], "Error: No such command 'evalute'. Did you mean 'evaluate'?"),
    (["data", "splt"], "Error: No such command 'splt'. Did you mean 'split'?"),
    (["--bogus"], "Error: No such option '--bogus'."),
    (["predict", "--bogus"], "Error: No such option '--bogus'."),
    (["data", "stats", "--bogus"], "Error: No such option '--bogus'."),
])
def test_usage_errors_are_one_line_and_exit_1_at_every_level(args, last):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and res.output.strip().splitlines() == [last]


def test_version_is_one_line():
    import visempar

    for flag in ("-V", "--version"):
        res = CliRunner().invoke(main, [flag])
        assert res.exit_code == 0 and res.output.strip().splitlines() == [f"visempar, version {visempar.__version__}"]


@pytest.mark.parametrize("damage, named", [
    ("truncated weights", "adapter"),
    ("no tokenizer", "adapter"),
    ("damaged run.json", "run.json"),
    ("damaged lexicon.json", "lexicon.json"),
])
def test_a_damaged_run_folder_is_one_line_naming_the_file(trained_run, tmp_path, damage, named):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    if damage == "truncated weights":
        weights = run / "adapter" / "adapter_model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "no tokenizer":
        for f in (run / "adapter").iterdir():
            if f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges", "chat_template")):
                f.unlink()
    elif damage == "damaged run.json":
        (run / "run.json").write_text("{not json", encoding="utf-8")
    else:
        (run / "lexicon.json").write_text("[1, 2", encoding="utf-8")
    src = tmp_path / "in.txt"
    src.write_text("trời mưa .\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["predict", "--run", str(run), "--input", str(src), "--output",
                                    str(tmp_path / "out.txt")])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and lines[-1].startswith("Error: ") and "Traceback" not in res.output, res.output
    assert named in lines[-1] and str(run) in lines[-1]
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("args, option", [
    (["predict", "--run", "r", "--input", "i", "--output", "o", "--batch-size", "100000"], "--batch-size"),
    (["predict", "--run", "r", "--input", "i", "--output", "o", "--samples", "1000000"], "--samples"),
    (["evaluate", "--predictions", "p", "--gold", "g", "--restarts", "100000000"], "--restarts"),
    (["compare", "a", "b", "--gold", "g", "--samples", "1000000000"], "--samples"),
    (["train", "--max-length", "100000000"], "max_length"),
    (["train", "--epochs", "1e9"], "num_train_epochs"),
    (["train", "--batch-size", "10000000"], "per_device_train_batch_size"),
    (["train", "--set", "generation_batch_size=100000"], "generation_batch_size"),
    (["train", "--set", "max_new_tokens=10000000"], "max_new_tokens"),
])
def test_numbers_that_would_run_for_ever_or_exhaust_memory_are_refused_first(args, option):
    res = CliRunner().invoke(main, args)
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: ") and option in lines[0], res.output
