"""Every output of every command, pointed where it must not go: the probe.

For each command and each path it writes (`--output`, `--json`, `--html`, `--out`, a run
folder...), five cases: the path is one of the command's inputs, the path is another
output of the same command, the path is a folder (or, for a folder output, a file), its
parent folder does not exist yet, and the disk is full. The first three are refused
before any work with one `Error:` line naming the option, and the input is unchanged; a
missing parent is created; a full disk is one `Error:` line naming the path, with no
temporary file left and what the path held before intact.
"""

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from visempar.cli import main
from visempar.data.corpus import sample_path

GOLD = str(sample_path("test"))


def _sentences(tmp: Path) -> str:
    path = tmp / "sentences.txt"
    path.write_text("tôi đi học .\ntrời mưa .\n", encoding="utf-8")
    return str(path)


def _copy(tmp: Path, name: str, source: str = GOLD) -> str:
    path = tmp / name
    path.write_text(Path(source).read_text(encoding="utf-8"), encoding="utf-8")
    return str(path)


# command: (the inputs it is given, the outputs: option -> "file" | "folder", the arguments)
def _commands(tmp: Path, run: str) -> dict:
    (tmp / "sp").mkdir()
    gold, other = _copy(tmp, "sp/train.txt"), _copy(tmp, "other.txt")  # a folder output `sp` would write train.txt
    sentences = _sentences(tmp)
    return {
        "data validate": ([gold], {"--json": "file"}, lambda o: ["data", "validate", gold, *o]),
        "data stats": ([gold], {"--json": "file"}, lambda o: ["data", "stats", gold, *o]),
        "data split": ([gold], {"--out": "folder", "--json": "file"},
                       lambda o: ["data", "split", gold, "--dev-fraction", "0.2", *o]),
        "data format": ([gold], {"--out": "file"}, lambda o: ["data", "format", gold, *o]),
        "evaluate": ([gold, other], {"--json": "file", "--html": "file"},
                     lambda o: ["evaluate", "--predictions", other, "--gold", gold, *o]),
        "evaluate --run": ([gold], {"--out": "folder", "--json": "file"},
                           lambda o: ["evaluate", "--run", run, "--data", gold, *o]),
        "compare": ([gold, other], {"--json": "file"}, lambda o: ["compare", other, gold, "--gold", gold, *o]),
        "ensemble": ([gold, other], {"--output": "file", "--json": "file"},
                     lambda o: ["ensemble", gold, other, *o]),
        "repair": ([other], {"OUT": "file", "--json": "file"},
                   lambda o: ["repair", other, *([o[o.index("OUT") + 1]] if "OUT" in o else []),
                              *[x for i, x in enumerate(o) if x != "OUT" and (i == 0 or o[i - 1] != "OUT")]]),
        "draw": ([gold], {"--output": "file"}, lambda o: ["draw", gold, *o]),
        "predict": ([sentences], {"--output": "file", "--json": "file"},
                    lambda o: ["predict", "--run", run, "--input", sentences, *o]),
    }


CONDITIONS = ["input", "other-output", "wrong-kind", "missing-parent"]


def _cases():
    names = ["data validate", "data stats", "data split", "data format", "evaluate", "evaluate --run", "compare",
             "ensemble", "repair", "draw", "predict"]
    options = {"data validate": ["--json"], "data stats": ["--json"], "data split": ["--out", "--json"],
               "data format": ["--out"], "evaluate": ["--json", "--html"], "evaluate --run": ["--out", "--json"],
               "compare": ["--json"], "ensemble": ["--output", "--json"], "repair": ["OUT", "--json"],
               "draw": ["--output"], "predict": ["--output", "--json"]}
    for name in names:
        for option in options[name]:
            for condition in CONDITIONS:
                yield name, option, condition


def _required(name: str, given: list[str], outs: dict, tmp: Path) -> list[str]:
    """The command's required outputs that `given` lacks, at harmless paths."""
    needed = {"data split": ["--out"], "data format": ["--out"], "ensemble": ["--output"], "repair": ["OUT"],
              "draw": ["--output"], "predict": ["--output"]}.get(name, [])
    args = []
    for other in needed:
        if other not in given:
            kind = outs[other]
            args += [other, str(tmp / ("elsewhere" if kind == "folder" else "elsewhere.txt"))]
    return args


@pytest.mark.parametrize("name, option, condition", list(_cases()))
def test_an_output_where_it_must_not_go_is_refused_before_any_work(name, option, condition, tmp_path, trained_run):
    inputs, outs, build = _commands(tmp_path, str(trained_run))[name]
    kind = outs[option]
    before = {p: Path(p).read_bytes() for p in inputs}
    if condition == "input":
        target = inputs[0] if kind == "file" else str(Path(inputs[0]).parent)
        if kind == "folder" and name == "evaluate --run":  # the run folder itself: its summary.json is read
            target = str(trained_run)
    elif condition == "other-output":
        others = [o for o in outs if o != option]
        if not others:
            pytest.skip(f"{name} writes only {option}")
        second = others[0]
        if kind == "file" and outs[second] == "file":
            target = second_target = str(tmp_path / "same.txt")
        else:  # a file output that is one of the files a folder output writes
            folder = str(tmp_path / "same")
            inside = str(tmp_path / "same" / ("train.txt" if name == "data split" else "summary.json"))
            target, second_target = (folder, inside) if kind == "folder" else (inside, folder)
        extra = [second, second_target]
    elif condition == "wrong-kind":
        target = str(tmp_path) if kind == "file" else inputs[0]
    else:
        target = str(tmp_path / "new" / "deeper" / ("out" if kind == "folder" else "out.txt"))
    args = [option, target] + (extra if condition == "other-output" else [])
    res = CliRunner().invoke(main, build(args + _required(name, args, outs, tmp_path)))
    if condition == "missing-parent":
        assert res.exit_code == 0, res.output
        assert Path(target).exists()
        return
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and len(lines) >= 1 and lines[-1].startswith("Error: "), res.output
    assert "Traceback" not in res.output
    message = lines[-1]
    assert option in message or (option == "OUT" and "OUT_PATH" in message) or "is also written as" in message
    assert {p: Path(p).read_bytes() for p in inputs} == before


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a file system with no room left (a small tmpfs, filled), holding one
    earlier output; skipped where this process cannot mount one."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("no tmpfs can be mounted here (needs root): the full-disk cases need one")
    try:
        (mount / "earlier.txt").write_text("what the output held before\n")
        fd = os.open(mount / "filler", os.O_CREAT | os.O_WRONLY)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


FULL = [("data split", "--out"), ("data format", "--out"), ("evaluate", "--json"), ("evaluate", "--html"),
        ("evaluate --run", "--out"), ("compare", "--json"), ("ensemble", "--output"), ("repair", "OUT"),
        ("draw", "--output"), ("predict", "--output"), ("predict", "--json"), ("data stats", "--json")]


@pytest.mark.parametrize("name, option", FULL)
def test_a_full_disk_is_one_line_naming_the_path_and_loses_nothing(name, option, full_disk, tmp_path, trained_run):
    inputs, outs, build = _commands(tmp_path, str(trained_run))[name]
    kind = outs[option]
    target = full_disk / ("out" if kind == "folder" else "earlier.txt")
    res = CliRunner().invoke(main, build([option, str(target)] + _required(name, [option], outs, tmp_path)))
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and lines[-1].startswith("Error: ") and "No space left on device" in lines[-1], res.output
    assert "Traceback" not in res.output
    assert str(full_disk) in lines[-1]
    assert (full_disk / "earlier.txt").read_text() == "what the output held before\n"
    leftovers = [p.name for p in full_disk.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == [] and sorted(os.listdir(full_disk)) in (["earlier.txt", "filler"],
                                                                 ["earlier.txt", "filler", "out"])
