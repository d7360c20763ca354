"""The Qwen3 path on the CPU: a tiny randomly initialised Qwen3-architecture model, a chat
template that opens the assistant's turn with a thinking block the way Qwen3's does, and the
bundled Qwen3 config's settings. Training and inference render one prompt; preflight's
`data.prompt` fails when the template's own conversation differs from that prompt."""

import json

import pytest

from tests.conftest import tiny_config
from visempar.config import load_config
from visempar.preflight.report import FAIL, PASS

# Qwen3's template in short: in non-thinking mode (`enable_thinking=false`) the generation
# prompt holds an empty thinking block; a finished assistant turn always shows one.
QWEN3_TEMPLATE = (
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}{%- endif %}")


@pytest.fixture(scope="module")
def qwen3_model(tiny_model, tmp_path_factory) -> str:
    """A 2-layer Qwen3 with random weights and the tiny tokenizer, saved as a local model."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    from visempar.model.build import load_tokenizer

    tok = load_tokenizer(tiny_model)
    tok.chat_template = QWEN3_TEMPLATE
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
        tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id))
    out = tmp_path_factory.mktemp("qwen3") / "tiny-qwen3"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    reloaded = AutoTokenizer.from_pretrained(out)
    text = "Tôi muốn đi học .\n(m / muốn)"
    assert reloaded(text)["input_ids"] == tok(text)["input_ids"]  # the ids survive the reload
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
