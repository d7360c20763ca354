"""Test settings: one CPU thread, no network, a throw-away HF_HOME, shared fixtures."""

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="visempar-hf-")
# a fresh model cache per test run; scripts/mutation.sh keeps one across its many runs
os.environ["VISEMPAR_CACHE"] = os.environ.get("VISEMPAR_TEST_CACHE") or tempfile.mkdtemp(prefix="visempar-cache-")

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; scripts/mutation.sh names it (mutmut runs from mutants/)
SHARED = Path(os.environ.get("VISEMPAR_SHARED") or ROOT.parent / "shared")
VLSP = SHARED / "vlsp2025"


def pytest_collection_modifyitems(config, items):
    """Under mutation testing (scripts/mutation.sh), the fastest tests first, by mutmut's own
    timings: a mutant is killed by the first failing test, so a killed one costs seconds."""
    stats = Path("mutmut-stats.json")  # mutmut runs the tests from mutants/
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", "") or not stats.exists():
        return
    import json

    durations = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))


@pytest.fixture(scope="session")
def vlsp_dir() -> Path:
    """The real challenge files beside the checkout; tests using them skip without them."""
    if not (VLSP / "train_amr_1.txt").exists():
        pytest.skip("../shared/vlsp2025 is absent")
    return VLSP


@pytest.fixture(scope="session")
def sample_corpora():
    from visempar.amr import read_corpus
    from visempar.data.corpus import sample_path

    return {s: read_corpus(sample_path(s)) for s in ("train", "dev", "test")}


def write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


@pytest.fixture(scope="session", autouse=True)
def one_cpu_thread():
    """torch runs on one CPU thread in every test (OMP_NUM_THREADS above covers subprocesses)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """A tiny model with a short warm-up, built once per session (as `--model tiny` is)."""
    from visempar.model.tiny import TinySpec, tiny_model_path

    return str(tiny_model_path(TinySpec(warmup_steps=40), log=lambda *_: None))


def tiny_config(model: str, out=None, **overrides):
    """A config small enough for a test: a few steps on the sample corpus."""
    from visempar.config import from_mapping

    values = dict(model=model, variant="baseline", compute_dtype="float32", cpu_threads=1,
                  max_length=384, lora_r=4, lora_alpha=8, lora_dropout=0.0, learning_rate=2e-3,
                  warmup=0.1, max_steps=6, per_device_train_batch_size=4, logging_steps=1,
                  save_steps=3, eval_steps=0,
                  max_new_tokens=48, generation_batch_size=8, stall_check_steps=0)
    if out is not None:
        values["output_dir"] = str(out)
    values.update(overrides)
    return from_mapping(values, "test")


@pytest.fixture(scope="session")
def trained_run(tiny_model, tmp_path_factory):
    """A finished 6-step baseline run, shared by the parsing tests."""
    from visempar.train.run import train

    out = tmp_path_factory.mktemp("run") / "baseline"
    summary = train(tiny_config(tiny_model, out), log=lambda *_: None)
    assert summary["status"] == "completed"
    return out


def score_graphs(preds, golds, **options):
    """`score_texts` on graphs written in the VLSP layout (None: an empty prediction)."""
    from visempar.amr import format_graph
    from visempar.scoring.files import score_texts

    report, _ = score_texts(["" if p is None else format_graph(p) for p in preds],
                            [format_graph(g) for g in golds], gold_graphs=list(golds), **options)
    return report


def hold_lock(path: Path):
    """A live process holding the kernel lock on `path` (as a writer does), as a
    `subprocess.Popen` to use in a `with` block and kill."""
    import subprocess
    import sys

    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc
