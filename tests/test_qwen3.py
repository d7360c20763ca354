"""The Qwen3 path on the CPU: a tiny randomly initialised Qwen3-architecture model, a chat
template that opens the assistant's turn with a thinking block the way Qwen3's does, and the
bundled Qwen3 config's settings. Training and inference render one prompt; preflight's
`data.prompt` fails when the template's own conversation differs from that prompt."""

import json

import pytest

from tests.conftest import tiny_config
from visempar.config import load_config
from visempar.preflight.report import FAIL, PASS

@pytest.fixture(scope="module")
def qwen3_model(tiny_model, tmp_path_factory) -> str:
    """A 2-layer Qwen3 with random weights, the tiny tokenizer and a thinking template."""
    from visempar.model.tiny import tiny_qwen3

    out = tiny_qwen3(tiny_model, tmp_path_factory.mktemp("qwen3") / "tiny-qwen3")
    assert json.loads((out / "config.json").read_text())["model_type"] == "qwen3"
    return str(out)


def qwen3_config(model: str, out=None, **overrides):
    """The bundled qwen3-14b-qlora settings (LoRA on the seven projections, the thinking
    switch), sized for a CPU test."""
    bundled = load_config("qwen3-14b-qlora")
    settings = {"lora_target_modules": bundled.lora_target_modules, "enable_thinking": bundled.enable_thinking}
    return tiny_config(model, out, **{**settings, **overrides})


def test_preflight_passes_on_qwen3_with_the_thinking_block_in_the_prompt(qwen3_model):
    from visempar.preflight.run import preflight

    report, _ = preflight(qwen3_config(qwen3_model), log=lambda *_: None)
    checks = {c.id: c for c in report.checks}
    assert all(c.status == PASS for c in checks.values()), [(c.id, c.reason) for c in report.checks
                                                            if c.status != PASS]
    assert checks["data.prompt"].details["prompt"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_a_template_whose_conversation_differs_from_the_prompt_fails_data_prompt(qwen3_model):
    from visempar.preflight.run import preflight

    report, _ = preflight(qwen3_config(qwen3_model, enable_thinking=None), log=lambda *_: None)
    check = next(c for c in report.checks if c.id == "data.prompt")
    assert check.status == FAIL
    assert "renders the assistant's turn differently from the prompt visempar trains" in check.reason
    assert "'<think>" in check.reason and "enable_thinking: false" in check.fix


def test_a_qwen3_run_parses_with_the_prompt_it_was_trained_on(qwen3_model, tmp_path):
    from visempar.api import load_parser
    from visempar.train.run import train

    summary = train(qwen3_config(qwen3_model, tmp_path / "run", max_steps=2), log=lambda *_: None)
    assert summary["status"] == "completed"
    parser = load_parser(tmp_path / "run")
    assert parser.config.enable_thinking is False
    prompt = parser._loaded.builder.prompt("Tôi đi học .")
    assert prompt.endswith("<think>\n\n</think>\n\n")
    assert len(parser.parse(["Tôi đi học ."])) == 1


def test_the_gpu_checks_qwen3_case_runs_on_the_cpu(qwen3_model, tmp_path):
    """scripts/gpu-check.sh runs this case too; here every step that needs no CUDA."""
    from visempar.gpu_check import Assertions, check_variant, qwen3_settings

    asserts = Assertions()
    figures = check_variant("baseline", qwen3_model, tmp_path, 2, asserts, label="qwen3",
                            settings=qwen3_settings())
    assert asserts.failed == [], json.dumps(asserts.rows, indent=1)
    names = {r["name"] for r in asserts.rows}
    assert {"qwen3.preflight", "qwen3.train", "qwen3.evaluate"} <= names
    assert figures["summary"]["steps"] == 2
