"""Experiment tracking: `report_to` goes through to the trainer, TensorBoard works offline."""

import pytest

from tests.conftest import tiny_config
from visempar.config import ConfigError


def scalars(run_dir) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found = {}
    for events in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            found[tag] = [e.value for e in acc.Scalars(tag)]
    return found


def test_tensorboard_holds_train_and_eval_figures(tiny_model, tmp_path):
    from visempar.train.run import train

    out = tmp_path / "tb"
    summary = train(tiny_config(tiny_model, out, report_to="tensorboard", max_steps=4, eval_steps=2,
                                save_steps=2, select_best="smatch", dev_smatch_examples=2), log=lambda *_: None)
    assert summary["status"] == "completed"
    found = scalars(out)
    for tag in ("train/loss", "train/loss_graph", "train/skipped_steps", "train/learning_rate",
                "eval/loss", "eval/smatch"):
        assert tag in found, sorted(found)
    assert len(found["train/loss"]) == 4 and len(found["eval/loss"]) == 2
    assert not (out / "checkpoints" / "runs").exists()


def test_missing_tracker_package_is_a_clean_config_error(tiny_model, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "wandb" else real(name))
    with pytest.raises(ConfigError, match=r"report_to: wandb needs the `wandb` package.*pip install wandb"):
        tiny_config(tiny_model, report_to="tensorboard,wandb")
    with pytest.raises(ConfigError, match="report_to must be none or some of"):
        tiny_config(tiny_model, report_to="neptune")
