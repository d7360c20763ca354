"""kill -9 at seeded moments, then `--resume`: the run ends with the uninterrupted adapter.

Two trials of `benchmarks/bench_kill.py` (which runs many): real `visempar train`
processes, SIGKILLed at moments drawn over a whole run's length, preflight included.
"""

import pytest

from benchmarks.bench_kill import adapter, straight_run, trial


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("kill") / "straight"
    return straight_run(tiny_model, out), adapter(out)


@pytest.mark.parametrize("seed, kills", [(27, 1), (35, 2)])  # moments at 0.65; 0.55 and 0.75 of a run
def test_a_run_killed_at_random_moments_resumes_to_the_uninterrupted_adapter(tiny_model, tmp_path, uninterrupted,
                                                                            seed, kills):
    duration, reference = uninterrupted
    ok, delivered, detail = trial(tiny_model, tmp_path / "run", seed, kills, duration, reference)
    assert ok and delivered >= 1, detail
