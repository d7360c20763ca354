"""The training-health monitor (failure modes B2, A1, A6, C1/C2).

- A micro-batch with a non-finite loss, or an accumulation window whose gradient norm is
  non-finite, is skipped: its gradients are dropped before the optimizer step, the batch's
  example indices are logged and counted, and `max_bad_steps` such steps in a row abort
  the run with the cause. Nothing is ever replaced by zero.
- Every `stall_check_steps` optimizer steps, trainable tensors that did not change at all
  are reported by name.
- The loss of task 1 and task 2 tokens (mtup) is logged apart, raw, next to the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transformers import TrainerCallback

from visempar.errors import VisemparError


class TrainingHealthError(VisemparError, RuntimeError):
    """Training cannot usefully go on; the message says why."""


@dataclass
class HealthState:
    skipped_steps: int = 0
    consecutive_bad: int = 0
    bad_batches: list[dict] = field(default_factory=list)
    stalled: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"skipped_steps": self.skipped_steps, "bad_batches": self.bad_batches[-50:],
                "stalled_tensors": self.stalled}


class HealthMonitor(TrainerCallback):
    """Watches losses, gradients and parameter movement; see the module docstring."""

    def __init__(self, max_bad_steps: int, stall_check_steps: int, log=print):
        self.max_bad_steps = max_bad_steps
        self.stall_check_steps = stall_check_steps
        self.log = log
        self.state = HealthState()
        self._window_bad: list[dict] = []
        self._segment_sums = {1: 0.0, 2: 0.0}  # per task: summed token loss, token count
        self._segment_counts = {1: 0, 2: 0}
        self._snapshot: dict | None = None
        self._skipped_since_snapshot = 0
        self.stop_signal: str | None = None

    # -- per micro-batch, called from the trainer's compute_loss
    def observe(self, loss, outputs, segment, index, step: int) -> None:
        import torch

        if not torch.isfinite(loss.detach()).all():
            self._window_bad.append({"step": step + 1, "loss": str(float(loss.detach())),
                                     "examples": [] if index is None else index.tolist()})
            return
        log_probs, mask = getattr(outputs, "log_probs", None), getattr(outputs, "label_mask", None)
        if log_probs is None or mask is None or segment is None:
            return
        seg = segment[:, 1:].to(mask.device)
        nll = -log_probs.detach().float()
        for s in (1, 2):
            sel = mask & (seg == s)
            self._segment_sums[s] += float(nll[sel].sum())
            self._segment_counts[s] += int(sel.sum())

    def segment_losses(self, variant: str) -> dict[str, float]:
        """Mean token loss per task since the last call (raw, unweighted)."""
        out = {}
        names = {1: "loss_task1", 2: "loss_task2"} if variant == "mtup" else {2: "loss_graph"}
        for s, name in names.items():
            if self._segment_counts[s]:
                out[name] = self._segment_sums[s] / self._segment_counts[s]
        self._segment_sums, self._segment_counts = {1: 0.0, 2: 0.0}, {1: 0, 2: 0}
        return out

    # -- per optimizer step
    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        params = [p for p in model.parameters() if p.requires_grad]
        grads = [p.grad for p in params if p.grad is not None]
        norm = math.sqrt(sum(float(g.detach().float().pow(2).sum()) for g in grads)) if grads else 0.0
        bad = list(self._window_bad)
        if not math.isfinite(norm) and not bad:
            bad.append({"step": state.global_step + 1, "grad_norm": str(norm), "examples": []})
        self._window_bad.clear()
        if not bad:
            self.state.consecutive_bad = 0
            return
        for p in params:
            p.grad = None  # AdamW skips tensors without a gradient: no update, no state change
        self.state.skipped_steps += 1
        self.state.consecutive_bad += 1
        self._skipped_since_snapshot += 1
        self.state.bad_batches.extend(bad)
        examples = sorted({i for b in bad for i in b["examples"]})
        self.log(f"step {state.global_step + 1}: non-finite loss or gradient norm; step skipped "
                 f"(examples {examples or 'unknown'}; {self.state.consecutive_bad} in a row, "
                 f"{self.state.skipped_steps} in total)")
        if self.state.consecutive_bad >= self.max_bad_steps:
            raise TrainingHealthError(
                f"{self.state.consecutive_bad} optimizer steps in a row had a non-finite loss or "
                f"gradient norm (last at step {state.global_step + 1}, examples {examples}); "
                "likely causes: learning rate too high, a corrupt example, fp16 overflow. "
                "Training stopped; nothing was replaced by zero.")

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.stop_signal:
            control.should_save = True
            control.should_training_stop = True
        if self.stall_check_steps and state.global_step % self.stall_check_steps == 0:
            self._check_movement(model, state.global_step)
        return control

    def _check_movement(self, model, step: int) -> None:
        current = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        if self._snapshot is not None and self._skipped_since_snapshot < self.stall_check_steps:
            frozen = [n for n, t in current.items() if n in self._snapshot and torch_equal(t, self._snapshot[n])]
            for name in frozen:
                self.state.stalled[name] = step
            if frozen:
                self.log(f"step {step}: {len(frozen)} trainable tensors did not change over the last "
                         f"{self.stall_check_steps} steps (e.g. {frozen[0]}); check their dtype and the LR")
        self._snapshot, self._skipped_since_snapshot = current, 0


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))
