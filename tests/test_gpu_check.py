"""The GPU check (scripts/gpu-check.sh) and its wheel set, on a machine without CUDA."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT


def _wheels():
    spec = importlib.util.spec_from_file_location("gpu_wheels", ROOT / "scripts" / "gpu_wheels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_set(folder, pins, **replace):
    folder.mkdir()
    for name, version in pins.items():
        filename = replace.get(name, f"{name}-{version}-py3-none-any.whl")
        if filename:
            (folder / filename).write_bytes(b"")
    return folder


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_refuses_without_cuda():
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr and "needs a GPU" in done.stderr
    from visempar.gpu_check import NO_CUDA, main

    assert main(["--out", os.devnull]) == NO_CUDA == 2


def test_wheel_pins_come_from_constraints():
    wheels = _wheels()
    pins = wheels.pins()
    constraints = (ROOT / "constraints.txt").read_text()
    for name, version in pins.items():
        assert f"{name}=={version}" in constraints
    assert {"trl", "bitsandbytes", "datasets", "smatch", "penman", "evaluate"} <= set(pins)
    binary, *built = wheels.download_commands(ROOT / ".whl", python="python3")
    assert binary[binary.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in binary and "--no-deps" in binary
    assert {a for a in binary if "==" in a} | {c[-1] for c in built} == {f"{n}=={v}" for n, v in pins.items()}
    assert any("manylinux" in a for a in binary)


def test_wheel_folder_check_names_each_problem(tmp_path):
    wheels = _wheels()
    pins = wheels.pins()
    assert wheels.check(_fake_set(tmp_path / "ok", pins)) == []
    bad = _fake_set(tmp_path / "bad", pins, penman="",
                    trl="trl-0.1.0-py3-none-any.whl",
                    bitsandbytes=f"bitsandbytes-{pins['bitsandbytes']}-py3-none-win_amd64.whl")
    (bad / "datasets-0.0.1-py3-none-any.whl").write_bytes(b"")
    (bad / "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(b"")
    (bad / "smatch-1.0.4.tar.gz").write_bytes(b"")
    problems = "\n".join(wheels.check(bad))
    assert f"penman=={pins['penman']}: missing" in problems
    assert f"trl: wheel is 0.1.0, constraints.txt pins {pins['trl']}" in problems
    assert "bitsandbytes: platform win_amd64 is not linux x86_64" in problems
    assert "datasets: 2 wheels" in problems
    assert "numpy: not in the pinned set" in problems
    assert "smatch-1.0.4.tar.gz: not a wheel" in problems


@pytest.mark.skipif(os.environ.get("VISEMPAR_NETWORK_TESTS") != "1",
                    reason="downloads ~57 MB from PyPI; set VISEMPAR_NETWORK_TESTS=1")
def test_wheel_download_of_the_pinned_set(tmp_path):
    wheels = _wheels()
    assert wheels.main(["download", str(tmp_path / "whl")]) == 0
    assert wheels.check(tmp_path / "whl") == []


def test_gpu_check_steps_run_on_cpu(tiny_model, tmp_path, capsys):
    """Every step that does not need CUDA, on CPU, the 4-bit ones included where
    bitsandbytes runs on this CPU: they pass, and the figures are reported."""
    from visempar.model.build import cpu_4bit_problem
    from visempar.gpu_check import Assertions, check_variant

    asserts = Assertions()
    figures = check_variant("baseline", tiny_model, tmp_path, 2, asserts)
    rows = {r["name"]: r for r in asserts.rows}
    four_bit = cpu_4bit_problem() is None
    assert rows["baseline.linear4bit"]["status"] == ("pass" if four_bit else "skip")
    assert (figures["linear4bit_layers"] > 0) == four_bit
    assert asserts.failed == [], json.dumps(asserts.rows, indent=1)
    for name in ("preflight", "trainable_fp32_after_trl", "compute_dtype", "train", "lora_moved", "evaluate"):
        assert rows[f"baseline.{name}"]["status"] == "pass"
    assert figures["tokens_per_second"] > 0 and figures["summary"]["steps"] == 2
    assert figures["generation"]["sentences"] == 25
