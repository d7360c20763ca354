"""`visempar preflight`, top to bottom: prove, in seconds, that the training stack will train.

The checks run on exactly what `visempar train` builds (`visempar.train.run.prepare`,
`make_trainer`): the same config, model, data, collator, loss and optimizer. Forward,
backward and optimizer steps use the trainer's own `training_step`; the evaluation path
runs eval loss, generation, repair and Smatch. Trainable weights and RNG state are
restored afterwards, so `train` can reuse the stack.

The checks live by what they need: `config_checks` (the config alone), `data_checks`,
`model_checks` (the built model) and `step_checks` (real steps); `report` is what they
return and how it prints.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from visempar.errors import VisemparError
from visempar.preflight.config_checks import check_environment, check_learning_rate, check_schedule
from visempar.preflight.data_checks import (check_label_mask, check_lengths, check_overlap,
                                            check_prompt_consistency)
from visempar.preflight.model_checks import check_checkpointing, check_dtypes, check_lora, trainable
from visempar.preflight.report import FAIL, Check, Preflight, Report, attempt, fail, failure, ok
from visempar.preflight.step_checks import check_eval_path, check_precision, run_steps


def _rng_state():
    import numpy as np
    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _rng_equal(a, b) -> bool:
    import numpy as np
    import torch

    return (a[0] == b[0] and a[1][0] == b[1][0] and bool(np.array_equal(a[1][1], b[1][1]))
            and a[1][2:] == b[1][2:] and torch.equal(a[2], b[2]))


def _set_rng_state(state) -> None:
    import numpy as np
    import torch

    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


def preflight(config, *, prepared=None, log: Callable = print, batches: int = 2,
              make_trainer_fn=None) -> tuple[Report, object]:
    """Run every check; returns the report and the prepared stack (for `train` to reuse).
    Config-only checks come first, then the build, then checks of the built stack, then
    real steps, after which the trainable weights and RNG states are put back."""
    start = time.perf_counter()
    pf = Preflight()
    env = pf.run("env.stack", lambda: check_environment(config))
    lr = pf.run("config.lr", lambda: check_learning_rate(config))
    p = _build(pf, config, prepared, log) if FAIL not in (env.status, lr.status) else None
    if p is None:
        return Report(pf.checks, time.perf_counter() - start), None
    pf.run("config.schedule", lambda: check_schedule(config, p.schedule))
    pf.run("data.lengths", lambda: check_lengths(p))
    pf.run("data.overlap", lambda: check_overlap(p))
    pf.run("data.prompt", lambda: check_prompt_consistency(p))
    pf.run("model.dtypes", lambda: check_dtypes(p))
    pf.run("model.lora", lambda: check_lora(p))
    pf.run("model.checkpointing", lambda: check_checkpointing(p))
    _trainer_checks(pf, config, p, batches, make_trainer_fn)
    return Report(pf.checks, time.perf_counter() - start), p


def _build(pf: Preflight, config, prepared, log):
    """The prepared stack, or None when the build failed (filed under the check its cause
    names: a missing model, data that does not fit, a bad config key, a bad file)."""
    from visempar.config import ConfigError
    from visempar.data.encode import TruncationError
    from visempar.model.build import describe_4bit
    from visempar.model.resolve import ModelSourceError
    from visempar.train.run import prepare

    start = time.perf_counter()
    p, check_id = None, "build"
    try:
        p = prepared or prepare(config, log=log)
    except ModelSourceError as err:
        check_id, check = "model.source", fail(str(err), "point --model at one of the choices named above")
    except TruncationError as err:
        check_id, check = "data.lengths", fail(str(err), "raise max_length, or set on_truncation: exclude")
    except ConfigError as err:
        check_id, check = "config.keys", fail(str(err), "fix the config named above")
    except VisemparError as err:
        check = fail(str(err), "fix the file named above")
    except Exception as err:  # a library's own error while loading: reported, not raised
        check = failure(err)
        check.fix = "fix the config or data named above"
    else:
        base = describe_4bit(p.stack.model) or f"{p.stack.compute_dtype} base"
        check = ok(f"model {p.stack.model_path} ({base}), {len(p.train.rows)} train / {len(p.eval.rows)} "
                   "eval examples", details={"quantized": p.stack.quantized, "base": base})
    pf.add(check_id, check, seconds=time.perf_counter() - start)
    return p


def _trainer_checks(pf: Preflight, config, p, batches: int, make_trainer_fn) -> None:
    """The checks of `_steps` on a trainer of the real stack (one that cannot be built is
    `train.trainer`); afterwards the trainable weights and RNG states are put back, and checked."""
    import torch

    from visempar.train.health import HealthMonitor
    from visempar.train.trainer import make_trainer

    model = p.stack.model
    saved = {n: t.detach().clone() for n, t in trainable(model).items()}
    rng = _rng_state()
    tmp = tempfile.TemporaryDirectory(prefix="visempar-preflight-")
    trainer = None
    try:
        monitor = HealthMonitor(config.max_bad_steps, 0, log=lambda *_: None)
        untracked = dataclasses.replace(config, report_to="none")  # preflight is not the run
        built = attempt(lambda: (make_trainer_fn or make_trainer)(
            untracked, p.stack, p.train.rows[: config.per_device_train_batch_size * batches],
            p.eval.rows[: max(2, config.per_device_eval_batch_size)], p.schedule, Path(tmp.name), monitor))
        if isinstance(built, Check):
            pf.add("train.trainer", built, "fix the setting named above: `visempar train` builds the same trainer")
        else:
            trainer = built
            _steps(pf, p, trainer, batches)
    finally:
        if trainer is not None:
            trainer.close()
        with torch.no_grad():
            for n, t in trainable(model).items():
                t.copy_(saved[n])
                t.grad = None
        _set_rng_state(rng)
        tmp.cleanup()
    weights = all(bool((t.detach() == saved[n]).all()) for n, t in trainable(model).items())
    states = _rng_equal(rng, _rng_state())
    problems = [what for what, good in (("trainable weights differ", weights),
                                        ("an RNG state differs", states)) if not good]
    pf.add("state.restored", fail("after preflight: " + " and ".join(problems), "") if problems else
           ok("trainable weights and the Python, NumPy and torch CPU RNG states restored"))


def _steps(pf: Preflight, p, trainer, batches: int) -> None:
    """Label mask, real steps, precision and the evaluation path, on the built trainer."""
    pf.run("data.mask", lambda: check_label_mask(p, trainer))
    start = time.perf_counter()
    stepped = attempt(lambda: run_steps(p, trainer, batches))
    grad, move, memory = (*stepped, None, None)[:3] if isinstance(stepped, tuple) else (stepped, None, None)
    pf.add("train.backward", grad, "see the reason", time.perf_counter() - start)
    if move is not None:
        pf.add("train.movement", move, seconds=0.0)
    if memory is not None:
        pf.add("train.memory", memory, seconds=0.0)
        pf.run("train.precision", lambda: check_precision(p, trainer))
    pf.run("eval.path", lambda: check_eval_path(p, trainer),
           "fix the evaluation code now: it would have crashed at the first evaluation (B1)")
