"""Graphs, PENMAN I/O in the VLSP dialect, concept spelling and the variable-free notation."""

from visempar.amr.concepts import normalize_concepts, respell
from visempar.amr.errors import AMRError, AMRSyntaxError, CorpusError
from visempar.amr.format import format_graph
from visempar.amr.graph import canonical_triples, to_graph, to_tree, triple_count
from visempar.amr.io import Corpus, Example, read_corpus, write_corpus
from visempar.amr.parse import parse_tree
from visempar.amr.variables import restore_variables, strip_variables


def parse_graph(text: str, *, concepts=None, metadata=None):
    """One graph's text as a `penman.Graph` (warnings are dropped; use `parse_tree` for them)."""
    tree = parse_tree(text).tree
    if concepts is not None:
        tree = normalize_concepts(tree, concepts)
    return to_graph(tree, metadata)


__all__ = [
    "AMRError", "AMRSyntaxError", "Corpus", "CorpusError", "Example", "canonical_triples",
    "format_graph", "normalize_concepts", "parse_graph", "parse_tree", "read_corpus",
    "respell", "restore_variables", "strip_variables", "to_graph", "to_tree",
    "triple_count", "write_corpus",
]
