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

ROOT = Path(__file__).resolve().parents[1]
VLSP = ROOT.parent / "shared" / "vlsp2025"


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
