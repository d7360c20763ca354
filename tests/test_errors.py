"""Every bad input a user can give ends in one `Error:` line naming the file, exit code 1,
no traceback, and no output file that looks complete."""

import os

import pytest
from click.testing import CliRunner

from visempar.cli import main

GOOD = "#::snt tôi đi .\n(đ / đi :agent (t / tôi))\n\n#::snt trời mưa .\n(m / mưa :theme (t / trời))\n"
FILES = {
    "missing": None,
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary",
    "directory": "dir",
    "malformed": "#::snt tôi đi .\n(đ / đi :agent (t / tôi)\n\n#::snt trời mưa .\n(m / mưa :theme (t / trời))\n".encode(),
}
CONFIGS = {
    "bad-yaml": "lora_r: [8, 16\n",
    "unknown-key": "lora_rank: 8\n",
    "out-of-range": "learning_rate: 5\n",
    "wrong-type": "lora_r: many\n",
}


def bad_file(tmp_path, kind, name="input.txt"):
    path = tmp_path / f"{kind}-{name}"
    content = FILES[kind]
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


def assert_clean_error(result, names, out_paths=()):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    assert any(str(n) in result.output for n in names), (names, result.output)
    for out in out_paths:
        assert not os.path.exists(out), f"{out} was left behind"


def invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("kind", sorted(FILES))
@pytest.mark.parametrize("command", ["validate", "stats", "split", "repair", "predictions", "gold"])
def test_corpus_inputs(tmp_path, command, kind):
    if kind == "malformed" and command in ("predictions", "repair"):
        pytest.skip("model output may be malformed: repaired and scored, not refused")
    bad = bad_file(tmp_path, kind)
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out"
    args = {"validate": ["data", "validate", bad], "stats": ["data", "stats", bad],
            "split": ["data", "split", bad, "--out", out],
            "repair": ["repair", bad, out],
            "predictions": ["evaluate", "--predictions", bad, "--gold", good, "--json", out],
            "gold": ["evaluate", "--predictions", good, "--gold", bad, "--json", out]}[command]
    assert_clean_error(invoke(args), [bad], [out])


def test_wrong_block_count_names_both_files(tmp_path):
    gold, pred = tmp_path / "gold.txt", tmp_path / "pred.txt"
    gold.write_text(GOOD, encoding="utf-8")
    pred.write_text(GOOD.split("\n\n")[0] + "\n", encoding="utf-8")
    result = invoke(["evaluate", "--predictions", pred, "--gold", gold, "--json", tmp_path / "r.json"])
    assert_clean_error(result, [pred], [tmp_path / "r.json"])
    assert str(gold) in result.output


@pytest.mark.parametrize("kind", sorted(FILES))
@pytest.mark.parametrize("option", ["--data", "--eval-data"])
@pytest.mark.parametrize("command", ["train", "preflight"])
def test_training_data(tiny_model, tmp_path, command, option, kind):
    bad = bad_file(tmp_path, kind)
    out = tmp_path / "run"
    result = invoke([command, "--model", tiny_model, "--config", "tiny-baseline", option, bad,
                     "--output-dir", out])
    assert_clean_error(result, [bad], [out / "config.yaml"])


@pytest.mark.parametrize("kind", sorted(CONFIGS))
@pytest.mark.parametrize("command", ["train", "preflight"])
def test_config_files(tmp_path, command, kind):
    config = tmp_path / f"{kind}.yaml"
    config.write_text(CONFIGS[kind], encoding="utf-8")
    result = invoke([command, "--config", config, "--output-dir", tmp_path / "run"])
    assert_clean_error(result, [config], [tmp_path / "run"])
    if kind != "bad-yaml":
        assert f"{config}:1" in result.output                      # file and line


def test_missing_config_and_bad_override(tmp_path):
    assert_clean_error(invoke(["train", "--config", tmp_path / "nope.yaml"]), ["nope.yaml"])
    assert_clean_error(invoke(["train", "--set", "lora_r=-3"]), ["lora_r"])


@pytest.mark.parametrize("kind", ["missing", "empty", "binary", "directory"])
def test_predict_input(trained_run, tmp_path, kind):
    bad = bad_file(tmp_path, kind)
    out = tmp_path / "out.txt"
    assert_clean_error(invoke(["predict", "--run", trained_run, "--input", bad, "--output", out]), [bad], [out])


@pytest.mark.parametrize("kind", ["missing", "directory", "file"])
@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_run_directories(tmp_path, command, kind):
    run = tmp_path / "run"
    if kind == "directory":
        run.mkdir()
    elif kind == "file":
        run.write_text("not a run", encoding="utf-8")
    sentences = tmp_path / "in.txt"
    sentences.write_text("tôi đi .\n", encoding="utf-8")
    out = tmp_path / "out"
    args = {"predict": ["predict", "--run", run, "--input", sentences, "--output", out],
            "evaluate": ["evaluate", "--run", run, "--out", out],
            "export": ["export", "--run", run, "--merge", out]}[command]
    assert_clean_error(invoke(args), [run], [out])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.txt"
    path.write_text(GOOD, encoding="utf-8")
    path.chmod(0)
    assert_clean_error(invoke(["data", "validate", path]), [path])
