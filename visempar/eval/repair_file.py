"""Repairing a file of model output into valid graphs, with an account of what survived.

`visempar repair` is `repair_file` plus printing. Per block: the changes repair made, the
bare references restored, and how many of the triples the reference scorer reads in the
input it still reads in the output (up to variable names and concept spelling).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from visempar.amr.concepts import ConceptStyle
from visempar.amr.errors import CorpusError
from visempar.amr.format import format_graph
from visempar.amr.io import Example, iter_blocks, read_text, write_corpus
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.eval.smatch import kept_triples


def repair_file(in_path: str | Path, out_path: str | Path, concepts: ConceptStyle | None = "space") -> dict:
    """Write every block of `in_path` repaired to `out_path` (same sentences, same order)
    and return the report: totals, kinds of change, and one row per block."""
    blocks = list(iter_blocks(read_text(in_path)))
    if not blocks:
        raise CorpusError(f"{in_path}: no sentence/graph blocks found (empty file?)")
    examples, rows, kinds = [], [], Counter()
    for i, block in enumerate(blocks):
        result = repair(block.graph_text, concepts)
        examples.append(Example(block.sentence, result.graph, str(in_path), block.line))
        kinds.update(result.kinds)
        kept = kept_triples(as_read_from_file(block.graph_text), format_graph(result.graph, "oneline"))
        rows.append({"index": i, "line": block.line, "changes": result.changes,
                     "empty": result.empty, "restored_references": result.restored,
                     "readable_triples": kept and {"kept": kept[0], "total": kept[1]}})
    write_corpus(out_path, examples)
    readable = [r["readable_triples"] for r in rows if r["readable_triples"]]
    return {"input": str(in_path), "output": str(out_path), "graphs": len(rows),
            "repaired": sum(1 for r in rows if r["changes"]),
            "without_graph": sum(r["empty"] for r in rows),
            "kinds": dict(kinds.most_common()),
            "readable_inputs": len(readable),
            "readable_triples": {"kept": sum(k["kept"] for k in readable),
                                 "total": sum(k["total"] for k in readable)},
            "restored_references": sum(r["restored_references"] for r in rows),
            "graphs_with_restored_references": sum(r["restored_references"] > 0 for r in rows),
            "blocks": rows}
