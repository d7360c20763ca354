"""The sentence bootstrap: packed sums equal a plain loop, intervals are central."""

import random

import pytest

from visempar.scoring.bootstrap import bootstrap_ci, percentile_interval, resampled_sums
from visempar.scoring.triples import f_score


@pytest.mark.parametrize("fields", [3, 6])
def test_packed_sums_equal_a_plain_resampling_loop(fields):
    rng = random.Random(7)
    rows = [tuple(rng.randint(0, 400) for _ in range(fields)) for _ in range(57)]
    rows[3] = (0,) * fields
    plain_rng = random.Random(11)
    plain = []
    for _ in range(200):
        drawn = plain_rng.choices(rows, k=len(rows))
        plain.append(tuple(sum(r[k] for r in drawn) for k in range(fields)))
    assert list(resampled_sums(rows, 200, seed=11)) == plain


def test_bootstrap_ci_is_the_central_interval_of_plainly_resampled_f1():
    rng = random.Random(3)
    counts = [(m, m + rng.randint(0, 9), m + rng.randint(0, 9)) for m in (rng.randint(0, 30) for _ in range(40))]
    plain_rng = random.Random(0)
    f1s = []
    for _ in range(1000):
        drawn = plain_rng.choices(counts, k=len(counts))
        f1s.append(f_score(*(sum(c[k] for c in drawn) for k in range(3)))[2])
    f1s.sort()
    assert bootstrap_ci(counts, 1000, seed=0) == (round(f1s[25], 4), round(f1s[974], 4))
    whole = f_score(*(sum(c[k] for c in counts) for k in range(3)))[2]
    lo, hi = bootstrap_ci(counts, 1000, seed=0)
    assert lo < whole < hi


def test_percentile_interval_leaves_as_many_values_below_as_above():
    values = list(range(1000))
    random.Random(1).shuffle(values)
    assert percentile_interval(values, 0.95) == (25, 974)
    assert percentile_interval(values, 0.9) == (50, 949)
    assert percentile_interval([5.0], 0.95) == (5.0, 5.0)


def test_no_sentences_or_no_samples_give_an_empty_interval():
    assert bootstrap_ci([], 1000) == (0.0, 0.0)
    assert bootstrap_ci([(1, 2, 3)], 0) == (0.0, 0.0)
