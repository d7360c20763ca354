"""Repairing a file of model output into valid graphs, with an account of what survived.

`visempar repair` is `repair_file` plus printing. Per block: the changes repair made, the
bare references restored, what the chosen passes after decoding changed (`--passes`: any
system's output gets them, no visempar run needed but for the passes that read a run's
fitted data), and which of the triples the reference scorer reads in the input it no
longer reads in the output (up to variable names and concept spelling).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from visempar.amr.concepts import ConceptStyle
from visempar.amr.format import format_graph
from visempar.amr.io import Example, read_blocks, write_corpus
from visempar.amr.lenient import as_read_from_file
from visempar.amr.repair import repair
from visempar.data.lexicon import Lexicon
from visempar.passes import NO_PASSES, Passes, run_passes
from visempar.scoring.account import account


@dataclass
class RepairReport:
    """What `repair_file` did: totals, kinds of change, and one row per block."""

    input: str
    output: str
    graphs: int
    repaired: int  # blocks repair changed
    without_graph: int  # blocks that got the placeholder graph
    kinds: dict[str, int]
    readable_inputs: int  # inputs the reference scorer reads
    kept: int  # of their triples, those the output keeps
    total: int
    restored_references: int
    graphs_with_restored_references: int
    blocks: list[dict]
    passes: dict[str, dict[str, int]] = field(default_factory=dict)  # per pass: graphs changed, changes

    def to_dict(self) -> dict:
        return asdict(self)


def repair_file(in_path: str | Path, out_path: str | Path, concepts: ConceptStyle | None = "space",
                passes: Passes = NO_PASSES, fitted: Lexicon | None = None) -> RepairReport:
    """Write every block of `in_path` repaired to `out_path` (same sentences, same order),
    then mended by the `passes` after decoding (with a run's `fitted` lexicon for those
    that read it), each reading the block's `#::snt` sentence."""
    blocks = read_blocks(in_path)
    examples: list[Example] = []
    rows: list[dict] = []
    kinds: Counter[str] = Counter()
    graphs_changed: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    kept = total = readable = 0
    for i, block in enumerate(blocks):
        result = repair(block.graph_text, concepts)
        graph, changed = run_passes(passes, block.sentence or "", result.graph, fitted)
        graphs_changed.update(changed.keys())
        changes.update(changed)
        examples.append(Example(block.sentence, graph, str(in_path), block.line))
        kinds.update(result.kinds)
        survived = account(as_read_from_file(block.graph_text), format_graph(graph, "oneline"))
        row = {"index": i, "line": block.line, "changes": result.changes, "empty": result.empty,
               "restored_references": result.restored, "passes": changed, "readable_triples": None}
        if survived is not None:
            readable, kept, total = readable + 1, kept + survived.kept, total + survived.total
            row["readable_triples"] = {"kept": survived.kept, "total": survived.total}
            if survived.lost:
                row["lost_triples"] = [list(t) for t in survived.lost]
        rows.append(row)
    write_corpus(out_path, examples)
    return RepairReport(
        input=str(in_path), output=str(out_path), graphs=len(rows),
        repaired=sum(1 for r in rows if r["changes"]), without_graph=sum(r["empty"] for r in rows),
        kinds=dict(kinds.most_common()), readable_inputs=readable, kept=kept, total=total,
        restored_references=sum(r["restored_references"] for r in rows),
        graphs_with_restored_references=sum(r["restored_references"] > 0 for r in rows), blocks=rows,
        passes={k: {"graphs": graphs_changed[k], "changes": changes[k]} for k in passes.switched_on()})
