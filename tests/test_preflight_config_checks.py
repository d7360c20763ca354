"""Preflight's config checks (`preflight/config_checks.py`) and its report (`report.py`),
without a model: each boundary and each message, fast enough for mutation testing
(scripts/mutation.sh)."""

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


@pytest.mark.parametrize("lr, status", [(1e-4, PASS), (1e-5, PASS), (3e-3, PASS), (1e-5 / 10, WARN),
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
    assert check_learning_rate(config(learning_rate=5e-6)).reason == \
        "learning_rate 5e-06 is outside the usual adamw range 1e-05..0.003"      # no other family: no hint
    edge = check_learning_rate(config(learning_rate=1e-2)).reason              # ranges include their ends
    assert edge.endswith("(a typical rate for adafactor, sgd, muon)")
    low_end = check_learning_rate(config(learning_rate=5e-4, optimizer="sgd")).reason
    assert low_end.endswith("(a typical rate for adamw, adamw-8bit, adafactor, muon)")


def test_schedule_in_optimizer_steps_and_warmup_that_never_ends():
    cfg = config(per_device_train_batch_size=4, gradient_accumulation_steps=3, num_train_epochs=2,
                 warmup=0.1, max_steps=-1, lr_scheduler="linear", learning_rate=1e-3)
    schedule = plan(cfg, 160)
    good = check_schedule(cfg, schedule)
    assert (good.status, good.fix, good.details) == (PASS, "", schedule.to_dict())
    assert good.reason == ("28 optimizer steps = ceil(40 micro-batches / 3 accumulation) x 2 epochs; "
                           "warmup 3; LR step 1 0, end of warmup 0.001, peak 0.001, last step 4e-05")
    for max_steps, by_steps in ((0, False), (1, True), (5, True)):
        capped = config(max_steps=max_steps, warmup=0)
        reason = check_schedule(capped, plan(capped, 160)).reason
        assert ("(max_steps); warmup 0;" in reason) == by_steps, reason
    endless = config(max_steps=5, warmup=5)
    bad = check_schedule(endless, plan(endless, 160))
    assert (bad.status, bad.reason, bad.fix, bad.details) == (
        FAIL, "warmup (5 steps) never ends within 5 optimizer steps: the LR never reaches its peak",
        "size warmup in optimizer steps, or as a ratio < 1", plan(endless, 160).to_dict())
    flat = Schedule(160, 40, 40, 5, 0, {"step 1": 0.0, "peak": 0.0, "last step": 0.0})
    zero = check_schedule(config(max_steps=5), flat)
    assert (zero.status, zero.reason, zero.fix, zero.details) == (
        FAIL, "the LR is zero at every step", "check learning_rate and lr_scheduler", flat.to_dict())


def test_environment_names_versions_and_refuses_what_cannot_run(monkeypatch):
    import torch

    from visempar.model import build, device
    from visempar.preflight.config_checks import package_versions

    check = check_environment(config(compute_dtype="float32"))
    details = {"versions": package_versions(), "cuda": torch.cuda.is_available(),
               "compute_dtype": "float32", "threads": torch.get_num_threads()}
    assert (check.status, check.details) == (PASS, details)
    assert details["versions"]["torch"] == torch.__version__
    assert check.reason.startswith(f"torch {torch.__version__}, transformers ")
    assert check.reason.endswith("; " + device.describe("float32"))
    if torch.cuda.is_available():
        return
    eight = check_environment(config(optimizer="paged_adamw_8bit", compute_dtype="float32"))
    assert (eight.status, eight.reason, eight.fix, eight.details) == (
        FAIL, "optimizer paged_adamw_8bit needs bitsandbytes on CUDA", "use optimizer: adamw_torch on CPU", details)
    monkeypatch.setattr(build, "cpu_4bit_problem", lambda: "no 4-bit kernel here")
    four = check_environment(config(load_in_4bit="true", compute_dtype="float32"))
    assert (four.status, four.fix, four.details) == (
        FAIL, "install a bitsandbytes with CPU support, or set load_in_4bit: false", details)
    assert four.reason == "4-bit loading requested (load_in_4bit: true) without CUDA, and no 4-bit kernel here"
    assert check_environment(config(load_in_4bit="auto", compute_dtype="float32")).status == PASS
    monkeypatch.setattr(build, "cpu_4bit_problem", lambda: None)
    assert check_environment(config(load_in_4bit="true", compute_dtype="float32")).status == PASS
    real = device.compute_dtype
    monkeypatch.setattr(device, "compute_dtype", lambda s: "float32" if s == "auto" else real(s))
    emulated = check_environment(config(compute_dtype="bfloat16"))
    assert (emulated.status, emulated.fix) == (WARN, "set compute_dtype: auto")
    assert emulated.details == {**details, "compute_dtype": "bfloat16"}
    assert emulated.reason == (f"compute_dtype: bfloat16 on hardware without native bf16 "
                               f"({device.describe('float32')}): it runs, emulated, usually slower than fp32")
    monkeypatch.setattr(device, "compute_dtype", lambda s: "bfloat16" if s == "auto" else "float32")
    assert check_environment(config(compute_dtype="bfloat16")).status == PASS


def test_report_table_failures_and_dict():
    checks = [Check("a.pass", PASS, "fine", "a fix, not shown: it passed"), Check("b.warn", WARN, "hmm", "do this"),
              Check("c.fail", FAIL, "broken", "fix that", 0.25)]
    report = Report(checks, 1.5)
    assert [c.id for c in report.failed()] == ["c.fail"]
    assert [c.id for c in report.failed(strict=True)] == ["b.warn", "c.fail"]
    assert report.get("b.warn") is checks[1] and report.get("nope") is None
    assert Report([Check("a.pass", PASS, "fine")], 1.2345).to_dict() == {
        "seconds": 1.23, "failed": [],
        "checks": [{"id": "a.pass", "status": PASS, "reason": "fine", "fix": "", "seconds": 0.0, "details": {}}]}
    lines = report.table().split("\n")
    assert lines[0] == "check   status  time   reason"
    assert lines[1] == "a.pass  PASS     0.00s fine"
    assert lines[3] == " " * 23 + "fix: do this"             # fixes only where not passing
    assert lines[4] == "c.fail  FAIL     0.25s broken"
    assert lines[-1] == "preflight: 3 checks, 1 failed, 1 warnings, 1.5 s"


def _raise_deeper():
    raise KeyError("labels")


def test_runner_names_the_exception_and_its_line_and_files_checks_in_order():
    def broken():
        _raise_deeper()

    runner = Preflight()
    crashed = runner.run("x.crash", broken, fix="see above")
    assert crashed.status == FAIL and crashed.fix == "see above"
    line = _raise_deeper.__code__.co_firstlineno + 1                 # the line that raised, not the caller
    assert crashed.reason == f"KeyError: 'labels' (at test_preflight_config_checks.py:{line})"
    assert 0 < crashed.seconds < 5
    passed = runner.run("y.pass", lambda: ok("fine", {"n": 1}))
    assert (passed.id, passed.status, passed.details, passed.fix) == ("y.pass", PASS, {"n": 1}, "")
    assert runner.add("z.warn", warn("w", "own fix"), "default fix", seconds=2.0).fix == "own fix"
    assert runner.add("w.plain", fail("f", "")).fix == "" and runner.checks[-1].seconds == 0.0
    assert [c.id for c in runner.checks] == ["x.crash", "y.pass", "z.warn", "w.plain"]
    assert runner.checks[2].seconds == 2.0
    assert attempt(lambda: (ok("a"), fail("b", "f")))[1].status == FAIL


def _fails_to_prepare(monkeypatch, error):
    import visempar.train.run

    def prepare(config, log):
        raise error

    monkeypatch.setattr(visempar.train.run, "prepare", prepare)


@pytest.mark.parametrize("error, check_id, fix", [
    ("model", "model.source", "point --model at one of the choices named above"),
    ("truncation", "data.lengths", "raise max_length, or set on_truncation: exclude"),
    ("config", "config.keys", "fix the config named above"),
    ("corpus", "build", "fix the file named above"),
])
def test_a_failed_build_is_filed_under_the_check_its_cause_names(monkeypatch, error, check_id, fix):
    from visempar.amr.errors import CorpusError
    from visempar.config import ConfigError
    from visempar.data.encode import TruncationError
    from visempar.model.resolve import ModelSourceError
    from visempar.preflight.run import preflight

    errors = {"model": ModelSourceError("m: not a model"), "truncation": TruncationError("t.txt: none fits"),
              "config": ConfigError("c.yaml:2: unknown key"), "corpus": CorpusError("d.txt:3: not a graph")}
    _fails_to_prepare(monkeypatch, errors[error])
    report, prepared = preflight(config(), log=lambda *_: None)
    assert prepared is None and [c.id for c in report.checks] == ["env.stack", "config.lr", check_id]
    check = report.checks[-1]
    assert (check.status, check.reason, check.fix) == (FAIL, str(errors[error]), fix)


def test_a_library_error_while_building_names_itself_and_its_line(monkeypatch):
    from visempar.preflight.run import preflight

    _fails_to_prepare(monkeypatch, OSError("disk full"))
    report, prepared = preflight(config(), log=lambda *_: None)
    check = report.checks[-1]
    assert prepared is None and (check.id, check.status) == ("build", FAIL)
    assert check.reason.startswith("OSError: disk full (at test_preflight_config_checks.py:")
    assert check.fix == "fix the config or data named above"


def test_a_refused_learning_rate_stops_before_the_build(monkeypatch):
    from visempar.preflight.run import preflight

    _fails_to_prepare(monkeypatch, AssertionError("the build must not start"))
    report, prepared = preflight(config(learning_rate=5e-7), log=lambda *_: None)
    assert prepared is None and [(c.id, c.status) for c in report.checks] == [("env.stack", PASS),
                                                                             ("config.lr", FAIL)]
    assert 0 < report.seconds < 60


def test_rng_states_are_compared_generator_by_generator():
    import random

    import numpy as np
    import torch

    from visempar.preflight.run import _rng_equal, _rng_state, _set_rng_state

    start = _rng_state()
    assert _rng_equal(start, _rng_state())
    for draw in (random.random, np.random.rand, np.random.standard_normal, lambda: torch.rand(1)):
        draw()
        assert not _rng_equal(start, _rng_state()), draw
        _set_rng_state(start)
        assert _rng_equal(start, _rng_state())
    cached_gaussian = (*start[1][:3], 1, 0.5)   # the same keys and position, a Gaussian kept
    assert not _rng_equal(start, (start[0], cached_gaussian, start[2]))
