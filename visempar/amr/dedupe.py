"""Identical sibling subtrees cut to one copy: over-generation, not meaning.

None of the 1,842 real VLSP 2025 training graphs holds two identical subtrees under one
parent (same role, same concept, same children, variables aside), while a model in a loop
writes them often. So the second and later copies go. A reference to a node inside a
dropped copy is redirected to the matching node of the kept copy, so nothing dangles.
"""

from __future__ import annotations

from penman.tree import Tree

Node = tuple  # (variable, [(role, target), ...])


def _is_node(target) -> bool:
    return isinstance(target, tuple)


def _signature(node: Node) -> tuple:
    _, branches = node
    return tuple((role, _signature(t) if _is_node(t) else t) for role, t in branches)


def _pair_variables(kept: Node, dropped: Node, mapping: dict[str, str]) -> None:
    mapping[dropped[0]] = kept[0]
    for (_, a), (_, b) in zip(kept[1], dropped[1]):
        if _is_node(a) and _is_node(b):
            _pair_variables(a, b, mapping)


def _dedupe(node: Node, mapping: dict[str, str], drops: list[str]) -> Node:
    var, branches = node
    kept: list = []
    seen: dict[tuple, Node] = {}
    for role, target in branches:
        if _is_node(target):
            target = _dedupe(target, mapping, drops)  # first, so that copies differing only in repeats match
            key = (role, _signature(target))
            if key in seen:
                _pair_variables(seen[key], target, mapping)
                drops.append(target[0])
                continue
            seen[key] = target
        kept.append((role, target))
    return var, kept


def _kept(variable: str, mapping: dict[str, str]) -> str:
    """The kept variable a dropped one stands for (a copy inside a dropped copy: twice)."""
    while variable in mapping:
        variable = mapping[variable]
    return variable


def _redirect(node: Node, mapping: dict[str, str]) -> Node:
    var, branches = node
    return var, [(role, _redirect(t, mapping) if _is_node(t) else
                  (_kept(t, mapping) if role != "/" else t)) for role, t in branches]


def drop_repeated_siblings(tree: Tree) -> tuple[Tree, int]:
    """`tree` without repeated sibling subtrees, and how many copies were dropped."""
    mapping: dict[str, str] = {}
    drops: list[str] = []
    node = _dedupe(tree.node, mapping, drops)
    if not drops:
        return tree, 0
    return Tree(_redirect(node, mapping), metadata=tree.metadata), len(drops)
