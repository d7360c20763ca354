"""Preflight's config-only checks and its report, without a model: each boundary and each
message, fast enough for mutation testing (scripts/mutation.sh)."""

import pytest

from visempar.config import from_mapping
from visempar.preflight.config_checks import (check_environment, check_learning_rate, check_schedule,
                                              optimizer_family)
from visempar.preflight.report import FAIL, PASS, WARN, Check, Preflight, Report, attempt, fail, ok, warn
from visempar.train.schedule import Schedule, plan


def config(**values):
    return from_mapping({"model": "tiny", **values}, "test")


@pytest.mark.parametrize("name, family", [("adamw_torch", "adamw"), ("paged_adamw_8bit", "adamw-8bit"),
                                          ("adafactor", "adafactor"), ("sgd", "sgd"), ("adamw_torch_fused", "adamw")])
def test_optimizer_family(name, family):
    assert optimizer_family(name) == family


@pytest.mark.parametrize("lr, status", [(1e-4, PASS), (1e-5, PASS), (3e-3, PASS), (1.1e-6, WARN),
                                        (9.9e-7, FAIL), (3.1e-3, WARN), (0.5, WARN)])
def test_learning_rate_range_and_its_edges(lr, status):
    check = check_learning_rate(config(learning_rate=lr))
    assert check.status == status, check.reason
    assert check.details == {"family": "adamw", "range": [1e-5, 3e-3], "learning_rate": lr}
    assert (check.fix == "") == (status == PASS)


def test_learning_rate_messages_say_how_far_off():
    far = check_learning_rate(config(learning_rate=1e-7))
    assert far.reason == ("learning_rate 1e-07 is far below the adamw range 1e-05..0.003: about "
                          "100,000 steps per 1% weight change")
    assert far.fix == "use a learning rate in 1e-05..0.003 for adamw_torch"
    high = check_learning_rate(config(learning_rate=5e-3))
    assert high.reason == ("learning_rate 0.005 is outside the usual adamw range 1e-05..0.003 "
                           "(a typical rate for adafactor, sgd, muon)")
    assert high.fix == "check the rate suits adamw_torch"
    assert check_learning_rate(config(learning_rate=0.5)).reason.endswith("1e-05..0.003 (a typical rate for sgd)")
    assert check_learning_rate(config(learning_rate=1e-4)).reason == \
        "learning_rate 0.0001 within the adamw range 1e-05..0.003"


def test_schedule_in_optimizer_steps_and_warmup_that_never_ends():
    cfg = config(per_device_train_batch_size=4, gradient_accumulation_steps=3, num_train_epochs=2,
                 warmup=0.1, max_steps=-1)
    good = check_schedule(cfg, plan(cfg, 160))
    assert good.status == PASS and good.reason.startswith(
        "28 optimizer steps = ceil(40 micro-batches / 3 accumulation) x 2 epochs; warmup 3; LR step 1 0")
    assert good.details["total_steps"] == 28
    capped = config(max_steps=5, warmup=1)
    assert check_schedule(capped, plan(capped, 160)).reason.startswith("5 optimizer steps (max_steps); warmup 1;")
    endless = config(max_steps=5, warmup=5)
    bad = check_schedule(endless, plan(endless, 160))
    assert bad.status == FAIL and bad.reason == ("warmup (5 steps) never ends within 5 optimizer steps: "
                                                 "the LR never reaches its peak")
    flat = Schedule(160, 40, 40, 5, 0, {"step 1": 0.0, "peak": 0.0, "last step": 0.0})
    assert check_schedule(capped, flat).reason == "the LR is zero at every step"


def test_environment_names_versions_and_refuses_8bit_without_cuda():
    import torch

    check = check_environment(config(compute_dtype="float32"))
    assert check.status == PASS and check.reason.startswith("torch ")
    assert set(check.details["versions"]) >= {"torch", "transformers", "trl", "peft", "smatch", "penman"}
    if not torch.cuda.is_available():
        eight = check_environment(config(optimizer="paged_adamw_8bit"))
        assert eight.status == FAIL and eight.fix == "use optimizer: adamw_torch on CPU"


def test_report_table_failures_and_dict():
    checks = [Check("a.pass", PASS, "fine"), Check("b.warn", WARN, "hmm", "do this"),
              Check("c.fail", FAIL, "broken", "fix that", 0.25)]
    report = Report(checks, 1.5)
    assert [c.id for c in report.failed()] == ["c.fail"]
    assert [c.id for c in report.failed(strict=True)] == ["b.warn", "c.fail"]
    assert report.get("b.warn") is checks[1] and report.get("nope") is None
    assert report.to_dict()["failed"] == ["c.fail"] and report.to_dict()["seconds"] == 1.5
    lines = report.table().split("\n")
    assert lines[0] == "check   status  time   reason"
    assert lines[1] == "a.pass  PASS     0.00s fine"
    assert lines[3] == " " * 23 + "fix: do this"             # fixes only where not passing
    assert lines[4] == "c.fail  FAIL     0.25s broken"
    assert lines[-1] == "preflight: 3 checks, 1 failed, 1 warnings, 1.5 s"


def test_runner_names_the_exception_and_its_line_and_files_checks_in_order():
    def broken():
        raise KeyError("labels")

    runner = Preflight(log=lambda *_: None)
    crashed = runner.run("x.crash", broken, fix="see above")
    assert crashed.status == FAIL and crashed.fix == "see above"
    assert crashed.reason.startswith("KeyError: 'labels' (at test_preflight_units.py:")
    passed = runner.run("y.pass", lambda: ok("fine", {"n": 1}))
    assert (passed.id, passed.status, passed.details, passed.fix) == ("y.pass", PASS, {"n": 1}, "")
    assert runner.add("z.warn", warn("w", "own fix"), "default fix", seconds=2.0).fix == "own fix"
    assert [c.id for c in runner.checks] == ["x.crash", "y.pass", "z.warn"] and runner.checks[2].seconds == 2.0
    assert attempt(lambda: (ok("a"), fail("b", "f")))[1].status == FAIL
