"""The reference scorer's node alignment (`smatch.get_best_match`), step for step, faster.

Same candidate pool and weights, same smart initialisation, same random restarts drawing
the same numbers from the generator, same steepest-ascent moves and swaps with the same
tie-breaking: given one seeded generator, the mapping and the matched count are the
package's (`tests/test_smatch.py` checks this on 699 pairs of real graphs). It is faster because:

- each triple's label and value are normalised once, and matching triples are found by
  lookup instead of by comparing every pair;
- a move or swap can only gain through a node pair it creates, so one that creates no
  candidate pair (gain <= 0, never chosen) is not evaluated;
- gains are computed in place, without the package's copies and whole-mapping cache
  (a cache of exact values, so dropping it changes nothing).
"""

from __future__ import annotations

import random
from collections import defaultdict

from visempar.scoring.triples import Triples, symbol_key

Pair = tuple[int, int]
Weights = dict[Pair, dict]  # smatch's weight_dict: pair -> {-1: unary, pair: binary}


def _index(name: str) -> int:
    return int(name[1:])  # names are one prefix letter and the node's index


def candidate_pool(a: Triples, b: Triples) -> tuple[list[set[int]], Weights]:
    """`smatch.compute_pool(*a, *b, ...)`: each node of `a`'s candidate nodes in `b` (built
    by the same insertions, so sets iterate alike) and the weight of each node pair."""
    candidates: list[set[int]] = [set() for _ in a[0]]
    weights: Weights = {}

    def unary(i: int, j: int) -> None:
        candidates[i].add(j)
        if (i, j) in weights:
            weights[(i, j)][-1] += 1
        else:
            weights[(i, j)] = {-1: 1}

    for part in (0, 1):  # instances, then attributes: (label, node, value)
        found: dict[tuple[str, str], list[int]] = defaultdict(list)
        for label, node, value in b[part]:
            found[(symbol_key(label), symbol_key(value))].append(_index(node))
        for label, node, value in a[part]:
            i = _index(node)
            for j in found.get((symbol_key(label), symbol_key(value)), ()):
                unary(i, j)
    found_rel: dict[str, list[Pair]] = defaultdict(list)
    for label, x, y in b[2]:
        found_rel[symbol_key(label)].append((_index(x), _index(y)))
    for label, x, y in a[2]:
        i1, i2 = _index(x), _index(y)
        for j1, j2 in found_rel.get(symbol_key(label), ()):
            candidates[i1].add(j1)
            candidates[i2].add(j2)
            p1, p2 = (i1, j1), (i2, j2)
            if p1 == p2:
                if p1 in weights:
                    weights[p1][-1] += 1
                else:
                    weights[p1] = {-1: 1}
                continue
            if i1 > i2:
                p1, p2 = p2, p1
            for p, q in ((p1, p2), (p2, p1)):
                w = weights.setdefault(p, {-1: 0})
                w[q] = w.get(q, 0) + 1
    return candidates, weights


class _Climber:
    """Hill-climbing over one candidate pool; `mapping[i]` is `a`'s node i's node in `b`."""

    def __init__(self, candidates: list[set[int]], weights: Weights, size_b: int):
        self.candidates, self.size_b = candidates, size_b
        self.unary = {p: w[-1] for p, w in weights.items()}
        self.binary = {p: [(*q, v) for q, v in w.items() if q != -1] for p, w in weights.items()}
        self.options = [sorted(c) for c in candidates]  # the package tries them ascending
        wanted: dict[int, list[int]] = defaultdict(list)  # b's node -> a's nodes wanting it
        for i, c in enumerate(self.options):
            for j in c:
                wanted[j].append(i)
        self.wanted = dict(wanted)

    def total(self, m: list[int]) -> int:
        """`smatch.compute_match`."""
        n = 0
        for i, j in enumerate(m):
            if (i, j) in self.unary:
                n += self.unary[(i, j)]
                n += sum(v for k, jk, v in self.binary[(i, j)] if k >= i and m[k] == jk)
        return n

    def _with(self, m: list[int], pair: Pair, skip: int = -1) -> int:
        """What `pair` adds to the total under mapping `m` (the package's gain terms)."""
        n = self.unary.get(pair)
        if n is None:
            return 0
        for k, jk, v in self.binary[pair]:
            if m[k] == jk and k != skip:
                n += v
        return n

    def move_gain(self, m: list[int], i: int, new: int) -> int:
        old = m[i]
        before = self._with(m, (i, old))
        m[i] = new
        after = self._with(m, (i, new))
        m[i] = old
        return after - before

    def swap_gain(self, m: list[int], i: int, j: int) -> int:
        """Gain of exchanging the nodes of `i` < `j` (`smatch.swap_gain`)."""
        a, b = m[i], m[j]
        before = self._with(m, (i, a)) + self._with(m, (j, b), skip=i)
        m[i], m[j] = b, a
        after = self._with(m, (i, b)) + self._with(m, (j, a), skip=i)
        m[i], m[j] = a, b
        return after - before

    def best_step(self, m: list[int]) -> tuple[int, list[int]]:
        """`smatch.get_best_gain`: the first move, else swap, of largest positive gain."""
        best, step = 0, None
        taken = set(m)
        for i, options in enumerate(self.options):
            for j in options:
                if j not in taken:
                    gain = self.move_gain(m, i, j)
                    if gain > best:
                        best, step = gain, ("move", i, j)
        holder = {j: i for i, j in enumerate(m) if j != -1}
        for i, options in enumerate(self.options):
            partners = [k for k in map(holder.get, options) if k is not None and k > i]
            if m[i] != -1:
                partners += [k for k in self.wanted.get(m[i], ()) if k > i]
            for j in sorted(set(partners)) if len(partners) > 1 else partners:
                gain = self.swap_gain(m, i, j)  # only a swap creating a candidate pair can gain
                if gain > best:
                    best, step = gain, ("swap", i, j)
        out = m[:]
        if step and step[0] == "move":
            out[step[1]] = step[2]
        elif step:
            out[step[1]], out[step[2]] = out[step[2]], out[step[1]]
        return best, out


def _smart_init(candidates: list[set[int]], a: Triples, b: Triples, rng: random.Random) -> list[int]:
    """`smatch.smart_init_mapping`: each node to its first free same-concept candidate,
    then the rest at random among free candidates."""
    taken: set[int] = set()
    result, unplaced = [], []
    for i, c in enumerate(candidates):
        if not c:
            result.append(-1)
            continue
        concept = a[0][i][2]
        for j in c:
            if concept == b[0][j][2] and j not in taken:
                result.append(j)
                taken.add(j)
                break
        if len(result) == i:
            unplaced.append(i)
            result.append(-1)
    for i in unplaced:
        options = list(candidates[i])
        while options:
            k = rng.randint(0, len(options) - 1)
            if options[k] in taken:
                options.pop(k)
            else:
                taken.add(options[k])
                result[i] = options[k]
                break
    return result


def _random_init(candidates: list[set[int]], rng: random.Random) -> list[int]:
    """`smatch.random_init_mapping`."""
    taken: set[int] = set()
    result = []
    for c in candidates:
        options = list(c)
        chosen = -1
        while options:
            k = rng.randint(0, len(options) - 1)
            if options[k] in taken:
                options.pop(k)
            else:
                chosen = options[k]
                taken.add(chosen)
                break
        result.append(chosen)
    return result


def best_match(a: Triples, b: Triples, rng: random.Random, restarts: int = 4,
               pool: tuple[list[set[int]], Weights] | None = None) -> tuple[list[int], int]:
    """`smatch.get_best_match` with `iteration_num = restarts + 1` and `rng` as its
    `random`: the best mapping of `a`'s nodes onto `b`'s and its matched triples."""
    candidates, weights = pool or candidate_pool(a, b)
    climber = _Climber(candidates, weights, len(b[0]))
    best, best_mapping = 0, [-1] * len(a[0])
    for round_ in range(restarts + 1):
        m = _smart_init(candidates, a, b, rng) if round_ == 0 else _random_init(candidates, rng)
        matched = climber.total(m)
        while True:
            gain, new = climber.best_step(m)
            if gain <= 0:
                break
            matched += gain
            m = new
        if matched > best:
            best, best_mapping = matched, m[:]
    return best_mapping, best
