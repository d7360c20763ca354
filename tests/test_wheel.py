"""The wheel is the product: built, installed without the checkout, and run from elsewhere.

The wheel is installed with `--no-deps` into a folder of its own that comes first on
PYTHONPATH; the commands run from a directory outside the checkout, so only what the wheel
holds (code, the bundled configs, the sample corpus) can be found.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder the built wheel was installed into."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    wheels = list(dist.glob("visempar-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for member in ("visempar/configs/tiny-baseline.yaml", "visempar/configs/smollm2-vlsp.yaml",
                   "visempar/data/sample/train.txt", "visempar/data/sample/test.txt", "visempar/py.typed"):
        assert member in names
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                    str(wheels[0])], check=True, capture_output=True)
    return target


def run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_installed_wheel_runs_without_the_checkout(installed, tiny_model, tmp_path):
    where = run(installed, tmp_path, "-c", "import visempar; print(visempar.__file__)")
    assert where.stdout.strip() == str(installed / "visempar" / "__init__.py")

    version = run(installed, tmp_path, "-m", "visempar", "--version")
    assert version.returncode == 0 and "0.3.0" in version.stdout

    check = run(installed, tmp_path, "-m", "visempar", "data", "validate")
    assert check.returncode == 0, check.stderr
    assert "sample" in check.stdout + check.stderr

    for config in ("tiny-baseline", "tiny-mtup"):
        trained = run(installed, tmp_path, "-m", "visempar", "train", "--config", config, "--model",
                      tiny_model, "--max-steps", "2", "--output-dir", config, "--set", "cpu_threads=1")
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert (tmp_path / config / "adapter" / "adapter_config.json").exists()

    scored = run(installed, tmp_path, "-m", "visempar", "evaluate", "--metric", "smatch", "--run",
                 "tiny-baseline", "--json", "eval.json")
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["gold"].endswith(os.path.join("visempar", "data", "sample", "test.txt"))
    assert 0 <= report["f1"] <= 1 and report["invalid"] <= 25

    api = run(installed, tmp_path, "-c", (
        "from visempar import load_parser, score\n"
        "p = load_parser('tiny-baseline')\n"
        "graphs = p.parse(['tôi đi học .', 'trời mưa .'])\n"
        "print(len(graphs), round(score(graphs, graphs).f1, 2), graphs[0].metadata['snt'])\n"))
    assert api.returncode == 0, api.stderr
    assert api.stdout.split() == ["2", "1.0", "tôi", "đi", "học", "."]


def test_an_unknown_config_name_lists_the_bundled_ones(installed, tmp_path):
    res = run(installed, tmp_path, "-m", "visempar", "preflight", "--config", "qwen9-huge")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith("Error: config 'qwen9-huge' not found")
    assert "smollm2-vlsp" in res.stderr and "tiny-mtup" in res.stderr
