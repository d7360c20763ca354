"""The optimal Smatch alignment, by branch and bound over the reference's candidate pool.

The reference's hill-climbing sometimes stops short of the best node mapping; `--exact`
(and repair's account of kept triples) use this search to prove its result optimal or
improve it.
"""

from __future__ import annotations


def exact_match(candidates: list[set[int]], weights: dict, lower: int = 0,
                budget: int = 200_000) -> tuple[int, bool]:
    """The optimal number of matched triples over injective node mappings, by branch and
    bound on smatch's candidate pool and weights; (best, proven). `lower` is a known
    score (the hill-climbing result); past `budget` expansions the best found so far is
    returned with proven=False."""
    best, proven, _ = exact_alignment(candidates, weights, lower, budget=budget)
    return best, proven


def exact_alignment(candidates: list[set[int]], weights: dict, lower: int = 0,
                    start: list[int] | None = None, budget: int = 200_000) -> tuple[int, bool, list[int] | None]:
    """`exact_match` with the mapping that scores it: (best, proven, mapping), where
    `start` is the mapping that scored `lower` (returned when nothing beats it)."""
    n = len(candidates)
    unary = {pair: w.get(-1, 0) for pair, w in weights.items()}
    binary = {pair: [(k, v) for k, v in w.items() if k != -1] for pair, w in weights.items()}

    def weight(i: int, j: int) -> int:
        return unary.get((i, j), 0) + sum(v for _, v in binary.get((i, j), ()))

    options = [sorted(c, key=lambda j: -weight(i, j)) for i, c in enumerate(candidates)]
    order = sorted(range(n), key=lambda i: -max((weight(i, j) for j in options[i]), default=0))
    mapping = [-1] * n
    assigned = [False] * n
    used: set[int] = set()
    best, expansions = lower, 0
    best_mapping = start

    def gain(i: int, j: int) -> int:
        return unary.get((i, j), 0) + sum(v for (k, jk), v in binary.get((i, j), ())
                                          if assigned[k] and mapping[k] == jk)

    def bound(pos: int) -> int:
        total = 0
        for i in order[pos:]:
            top = 0
            for j in options[i]:
                if j in used:
                    continue
                g = unary.get((i, j), 0) + sum(
                    v for (k, jk), v in binary.get((i, j), ())
                    if not assigned[k] or mapping[k] == jk)
                top = max(top, g)
            total += top
        return total

    def search(pos: int, score: int) -> bool:
        nonlocal best, expansions, best_mapping
        expansions += 1
        if expansions > budget:
            return False
        if score > best:
            best, best_mapping = score, mapping[:]
        if pos == n or score + bound(pos) <= best:
            return True
        i = order[pos]
        assigned[i] = True
        complete = True
        for j in options[i]:
            if j in used:
                continue
            mapping[i] = j
            used.add(j)
            complete = search(pos + 1, score + gain(i, j)) and complete
            used.discard(j)
            mapping[i] = -1
            if not complete:
                break
        if complete:
            complete = search(pos + 1, score)
        assigned[i] = False
        return complete

    proven = search(0, 0)
    return best, proven, best_mapping
