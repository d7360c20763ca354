"""The optimizer-step schedule (failure mode A4), at its edges: tiny data, accumulation
larger than an epoch, max_steps 0 and 1, warmup in steps or as a ratio, and the record
`run.json` keeps. Fast enough for mutation testing."""

import math

import pytest

from visempar.config import from_mapping
from visempar.train.schedule import Schedule, plan


def config(**values):
    return from_mapping({"model": "tiny", "max_steps": -1, "num_train_epochs": 1, "warmup": 0,
                         "learning_rate": 1e-3, "lr_scheduler": "cosine", **values}, "test")


@pytest.mark.parametrize("examples, batch, accumulation, world, micro, per_epoch", [
    (3, 8, 1, 1, 1, 1),            # fewer examples than a batch: still one micro-batch
    (16, 8, 4, 1, 2, 1),           # accumulation longer than the epoch: still one step
    (17, 8, 1, 1, 3, 3),
    (17, 8, 2, 1, 3, 2),
    (17, 4, 1, 2, 3, 3),           # per rank: ceil(17 / 2) = 9 examples, 3 micro-batches of 4
])
def test_sizes_in_optimizer_steps(examples, batch, accumulation, world, micro, per_epoch):
    s = plan(config(per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation), examples, world)
    assert (s.micro_batches_per_epoch, s.steps_per_epoch, s.total_steps) == (micro, per_epoch, per_epoch)


@pytest.mark.parametrize("values, total", [
    ({"max_steps": 0, "num_train_epochs": 2}, 10),      # 0 means: by epochs
    ({"max_steps": 1, "num_train_epochs": 2}, 1),       # 1 is a step count
    ({"max_steps": 7}, 7),
    ({"num_train_epochs": 0.01}, 1),                     # never zero steps
    ({"num_train_epochs": 1.5}, 8),
])
def test_total_steps(values, total):
    assert plan(config(per_device_train_batch_size=4, **values), 20).total_steps == total


@pytest.mark.parametrize("warmup, steps", [(0, 0), (1, 1), (2, 2), (0.25, 3), (0.999, 10)])
def test_warmup_is_steps_from_one_and_a_ratio_below(warmup, steps):
    assert plan(config(per_device_train_batch_size=2, warmup=warmup), 20).warmup_steps == steps


def test_the_planned_points_are_the_schedulers_lrs():
    cosine = plan(config(per_device_train_batch_size=2, warmup=0), 20)
    assert list(cosine.lr_at) == ["step 1", "peak", "last step"]
    assert cosine.lr_at["step 1"] == cosine.lr_at["peak"] == 1e-3      # no warmup: step 1 at the peak
    assert cosine.lr_at["last step"] == pytest.approx(1e-3 * (1 + math.cos(math.pi * 9 / 10)) / 2)
    late = plan(config(per_device_train_batch_size=2, warmup=9, lr_scheduler="linear"), 20)   # 10 steps
    assert late.lr_at["end of warmup"] == late.lr_at["last step"] == pytest.approx(1e-3)   # not step 9
    assert late.examples == 20
    warm = plan(config(per_device_train_batch_size=2, warmup=4, lr_scheduler="linear"), 20)
    assert warm.lr_at == {"step 1": 0.0, "end of warmup": 1e-3, "peak": 1e-3,
                          "last step": pytest.approx(1e-3 / 6)}


def test_schedule_record_in_run_json_holds_counts_steps_and_lr_points():
    s = Schedule(20, 10, 5, 5, 1, {"step 1": 0.0, "peak": 1e-3})
    assert s.to_dict() == {"examples": 20, "micro_batches_per_epoch": 10, "optimizer_steps_per_epoch": 5,
                           "total_steps": 5, "warmup_steps": 1, "lr_at": {"step 1": 0.0, "peak": 1e-3}}
    assert s.describe() == "5 optimizer steps (5/epoch from 10 micro-batches), warmup 1; LR step 1 0, peak 0.001"
