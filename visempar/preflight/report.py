"""What preflight reports: each check's status, reason and fix, and the table.

A check is a function that returns a `Check` (built with `ok`, `warn` or `fail`); the
`Preflight` runner files it under its id and times it, and `attempt` turns an exception
into a failure naming it and the line that raised it: preflight reports, it does not crash.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    id: str
    status: str
    reason: str
    fix: str = ""
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


@dataclass
class Report:
    checks: list[Check]
    seconds: float

    def failed(self, strict: bool = False) -> list[Check]:
        bad = (FAIL, WARN) if strict else (FAIL,)
        return [c for c in self.checks if c.status in bad]

    def get(self, check_id: str) -> Check | None:
        return next((c for c in self.checks if c.id == check_id), None)

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "checks": [asdict(c) for c in self.checks],
                "failed": [c.id for c in self.failed()]}

    def table(self) -> str:
        width = max(len(c.id) for c in self.checks)
        lines = [f"{'check':<{width}}  status  time   reason"]
        for c in self.checks:
            lines.append(f"{c.id:<{width}}  {c.status.upper():<6}  {c.seconds:5.2f}s {c.reason}")
            if c.status != PASS and c.fix:
                lines.append(f"{'':<{width}}                 fix: {c.fix}")
        fails, warns = sum(c.status == FAIL for c in self.checks), sum(c.status == WARN for c in self.checks)
        lines.append(f"preflight: {len(self.checks)} checks, {fails} failed, {warns} warnings, "
                     f"{self.seconds:.1f} s")
        return "\n".join(lines)


class Preflight:
    """Runs the checks in order; a check that raises is a failure naming the exception."""

    def __init__(self):
        self.checks: list[Check] = []

    def run(self, check_id: str, fn: Callable[[], Check | tuple[Check, ...]], fix: str = "") -> Check:
        start = time.perf_counter()
        return self.add(check_id, attempt(fn), fix, time.perf_counter() - start)

    def add(self, check_id: str, check: Check, fix: str = "", seconds: float | None = None) -> Check:
        check.id = check_id
        check.fix = check.fix or fix
        if seconds is not None:
            check.seconds = seconds
        self.checks.append(check)
        return check


def ok(reason: str, details: dict | None = None) -> Check:
    """A passed check (its id is set by `Preflight.add`)."""
    return Check("", PASS, reason, details=details or {})


def warn(reason: str, fix: str, details: dict | None = None) -> Check:
    return Check("", WARN, reason, fix, details=details or {})


def fail(reason: str, fix: str, details: dict | None = None) -> Check:
    return Check("", FAIL, reason, fix, details=details or {})


def failure(err: Exception) -> Check:
    """A failed check naming the exception and the line that raised it."""
    frame = traceback.extract_tb(err.__traceback__)[-1]
    return Check("", FAIL, f"{type(err).__name__}: {err} (at {Path(frame.filename).name}:{frame.lineno})")


def attempt(fn: Callable[[], Check | tuple[Check, ...]]):
    """`fn()` as a Check (or a tuple of Checks as they are); an exception becomes a failure
    naming it and where it was raised: the point of preflight is to report, not crash."""
    try:
        return fn()
    except Exception as err:
        return failure(err)
