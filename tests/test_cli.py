"""The `visempar data` commands: exit codes, messages, files and JSON reports."""

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from visempar.amr import read_corpus
from visempar.cli import main
from tests.conftest import write

GOOD = "#::snt một .\n(m / một)\n\n#::snt hai .\n(h / hai\n    :mod(t / to))\n"
BAD = "#::snt một .\n(m / một)\n\n#::snt hai .\n(h / hai\n    :mod)\n"


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def test_help_does_not_import_torch_or_transformers():
    code = ("import sys; from visempar.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "HEAVY []" in out


def test_scoring_loads_only_the_scoring_commands(tmp_path, sample_corpora):
    """`visempar evaluate` on files imports its own command module, not the training or
    inference ones, nor torch: start-up is part of scoring as fast as the reference."""
    from visempar.data.corpus import sample_path

    gold = sample_path("test")
    code = ("import sys; from visempar.cli import main\n"
            f"try: main(['evaluate', '--predictions', {str(gold)!r}, '--gold', {str(gold)!r}])\n"
            "except SystemExit: pass\n"
            "print('LOADED', sorted(m for m in sys.modules if m.startswith('visempar.cli.') or m in "
            "('torch', 'transformers', 'numpy', 'visempar.config')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "F1 1.0000" in out
    assert "LOADED ['visempar.cli.common', 'visempar.cli.scoring']" in out


def test_validate_exit_codes_and_messages(tmp_path):
    good, bad = write(tmp_path, "good.txt", GOOD), write(tmp_path, "bad.txt", BAD)
    ok = run("data", "validate", good)
    assert ok.exit_code == 0 and "2 blocks, 2 graphs read, 0 errors" in ok.output
    res = run("data", "validate", good, bad, "--json", tmp_path / "v.json")
    assert res.exit_code == 1
    assert f"error: {bad}:6:5: role :mod has no value" in res.output
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["ok"] is False and report["files"][str(bad)]["graphs"] == 1


def test_validate_defaults_to_the_bundled_sample():
    res = run("data", "validate")
    assert res.exit_code == 0
    assert "train.txt: 160 blocks, 160 graphs read, 0 errors" in res.output
    assert "dev.txt: 25 blocks" in res.output and "test.txt: 25 blocks" in res.output


def test_validate_reports_an_empty_file(tmp_path):
    res = run("data", "validate", write(tmp_path, "empty.txt", ""))
    assert res.exit_code == 1 and "no sentence/graph blocks found" in res.output


def test_stats_json_and_overlap(tmp_path):
    a, b = write(tmp_path, "a.txt", GOOD), write(tmp_path, "b.txt", GOOD.replace("một", "ba"))
    res = run("data", "stats", a, b, "--json", tmp_path / "s.json")
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["files"][str(a)]["graphs"] == 2
    assert report["all"]["graphs"] == 4
    assert report["overlap"] == {f"{a} <> {b}": 1}


def test_stats_stops_on_a_bad_block_unless_skipping(tmp_path):
    bad = write(tmp_path, "bad.txt", BAD)
    res = run("data", "stats", bad)
    assert res.exit_code == 1 and "bad.txt:6:5: role :mod has no value" in res.output
    assert "--on-error skip" in res.output
    res = run("data", "stats", bad, "--on-error", "skip", "--json", tmp_path / "s.json")
    assert res.exit_code == 0 and "skipped blocks: 1" in res.output
    assert json.loads((tmp_path / "s.json").read_text())["files"][str(bad)]["graphs"] == 1


def test_split_writes_files_and_refuses_test_overlap(tmp_path):
    corpus = write(tmp_path, "c.txt", "".join(f"#::snt câu {i} .\n(c / câu :quant {i})\n\n"
                                              for i in range(30)))
    test = write(tmp_path, "test.txt", "Câu 3 .\n")
    res = run("data", "split", corpus, "--out", tmp_path / "out", "--test", test)
    assert res.exit_code == 1 and "1 example(s) have a sentence of the test input" in res.output
    res = run("data", "split", corpus, "--out", tmp_path / "out", "--test", test,
              "--exclude-test", "--dev-fraction", "0.2", "--json", tmp_path / "r.json")
    assert res.exit_code == 0, res.output
    train, dev = (read_corpus(tmp_path / "out" / f) for f in ("train.txt", "dev.txt"))
    assert (len(train), len(dev)) == (23, 6)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["excluded_test_overlap"] == [f"{corpus}:10"]


def test_format_respells_concepts_and_changes_layout(tmp_path):
    src = write(tmp_path, "c.txt", "#::snt chủ tịch .\n(c / chủ_tịch\n    :mod(x / xã))\n")
    res = run("data", "format", src, "--out", tmp_path / "o.txt", "--style", "oneline",
              "--concepts", "space")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "o.txt").read_text() == "#::snt chủ tịch .\n(c / chủ tịch :mod (x / xã))\n"


def test_training_waits_passively_for_openmp_only_on_a_busy_machine(monkeypatch):
    import click

    import visempar.cli as cli

    group = cli.main
    ctx = click.Context(group)
    for busy, preset, command, expected in [
            (True, None, "train", "PASSIVE"),        # another process busy: sleep, do not fight it
            (False, None, "train", None),            # quiet: OpenMP's default, 15% faster
            (True, None, "predict", None),           # decoding keeps the default
            (True, "ACTIVE", "preflight", "ACTIVE")]:  # the user's own setting wins
        monkeypatch.setattr(cli, "busy_machine", lambda busy=busy: busy)
        if preset is None:
            monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
        else:
            monkeypatch.setenv("OMP_WAIT_POLICY", preset)
        group.get_command(ctx, command)
        assert cli.os.environ.get("OMP_WAIT_POLICY") == expected, (busy, preset, command)


def test_a_busy_cpu_is_told_from_a_quiet_one():
    import multiprocessing

    from visempar.cli import busy_machine

    def spin():
        while True:
            pass

    workers = [multiprocessing.get_context("fork").Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 1)]
    for w in workers:
        w.start()
    try:
        assert busy_machine()
    finally:
        for w in workers:
            w.kill()
