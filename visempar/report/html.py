"""The evaluation report: one self-contained HTML page that draws every prediction beside
its gold graph, coloured by the Smatch alignment.

`visempar evaluate ... --html OUT.html` writes it, for files and for runs. The page needs
no network: the drawings are inline SVG (`visempar.report.draw`), the script and styles
are inline. At the top: corpus P/R/F1 with the bootstrap interval, the fine-grained
components and a histogram of sentence F1; then one row per sentence (its F1, P and R,
the two drawings, the texts, and for a run the raw generation and what repair and the
passes after decoding changed). Rows sort by index, F1 and length and filter by text.

The page also carries its data for other tools: `<script type="application/json"
id="visempar-data">` holds one object per sentence (`index`, `sentence`, `f1`,
`precision`, `recall`, `matched`, `predicted`, `gold`, and for a run `path`, `repairs`,
`passes`), whose `matched`, `predicted` and `gold` sum to the totals of `--json`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from visempar.report.draw import GOLD, LOOKS, MATCHED, PREDICTION, draw_pair, render_svg
from visempar.scoring.alignment import align_texts
from visempar.scoring.triples import f_score

_KEYS = ("index", "sentence", "f1", "precision", "recall", "matched", "predicted", "gold", "valid")
_RUN_KEYS = ("path", "repairs", "passes", "generated")


@dataclass
class Pair:
    """One sentence of the report: its score row (`SmatchReport.per_sentence`), the texts
    its files hold, and what a run recorded (`generated`, `path`, `repairs`, `passes`)."""

    row: dict
    sentence: str
    pred_text: str
    gold_text: str
    run: dict = field(default_factory=dict)


def page(pairs: Sequence[Pair], summary: dict, fine: dict | None, title: str, *,
         seed: int = 0, restarts: int = 4) -> str:
    """The report's HTML. `summary` holds the corpus figures (`precision`, `recall`, `f1`,
    `f1_ci95`, `matched`, `predicted_triples`, `gold_triples`); `fine` the components."""
    records, rows = [], []
    for pair in pairs:
        record = {k: pair.row[k] for k in _KEYS if k in pair.row}
        record["sentence"] = pair.sentence
        record["precision"], record["recall"] = (round(x, 4) for x in f_score(
            record["matched"], record["predicted"], record["gold"])[:2])
        record.update({k: pair.run[k] for k in _RUN_KEYS if k in pair.run and k != "generated"})
        records.append(record)
        rows.append(_row(pair, record, seed, restarts))
    data = json.dumps(records, ensure_ascii=False).replace("</", "<\\/")
    return _PAGE.format(
        title=html.escape(title), head=_head(summary, len(pairs)), fine=_fine_table(fine),
        histogram=_histogram([r["f1"] for r in records]), legend=_legend(), rows="\n".join(rows),
        data=data, style=_STYLE, script=_SCRIPT)


def _row(pair: Pair, record: dict, seed: int, restarts: int) -> str:
    i = record["index"]
    alignment = align_texts(pair.pred_text, pair.gold_text, index=i, seed=seed, restarts=restarts)
    pred_svg, gold_svg = draw_pair(pair.pred_text, pair.gold_text, alignment)
    if pred_svg is None:
        pred_svg = '<p class="none">the reference scorer cannot read this prediction: it counts as empty</p>'
    f1, p, r = record["f1"], record["precision"], record["recall"]
    extra = _run_details(pair.run) if pair.run else ""
    words = len(pair.sentence.split())
    return f"""<section class="pair" id="s{i}" data-index="{i}" data-f1="{f1}" data-length="{words}"
 data-text="{html.escape((pair.sentence + ' ' + pair.pred_text + ' ' + pair.gold_text).lower())}">
<h2><span class="n">#{i + 1}</span> {html.escape(pair.sentence)}</h2>
<p class="score">F1 <b>{f1:.3f}</b> &middot; P {p:.3f} &middot; R {r:.3f} &middot; triples matched {record['matched']},
predicted {record['predicted']}, gold {record['gold']}</p>
<div class="graphs"><figure><figcaption>prediction</figcaption>{pred_svg}</figure>
<figure><figcaption>gold</figcaption>{gold_svg}</figure></div>
<details><summary>texts</summary><pre>{html.escape(pair.pred_text)}</pre><pre>{html.escape(pair.gold_text)}</pre>
{extra}</details>
</section>"""


def _run_details(run: dict) -> str:
    parts = []
    if "generated" in run:
        parts.append(f"<p>raw generation:</p><pre>{html.escape(run['generated'])}</pre>")
    parts.append(f"<p>path: {html.escape(str(run.get('path', '')))}; repair: "
                 f"{html.escape(', '.join(run.get('repairs') or []) or 'nothing')}; passes after decoding: "
                 f"{html.escape(', '.join(f'{k} {n}' for k, n in (run.get('passes') or {}).items()) or 'nothing')}</p>")
    return "\n".join(parts)


def _head(summary: dict, n: int) -> str:
    lo, hi = summary.get("f1_ci95", (0.0, 0.0))
    return (f"<p class='corpus'>Smatch F1 <b>{summary['f1']:.4f}</b> (95% CI {lo:.4f}&ndash;{hi:.4f}) &middot; "
            f"P {summary['precision']:.4f} &middot; R {summary['recall']:.4f} &middot; {n} sentences &middot; "
            f"triples matched {summary['matched']}, predicted {summary['predicted_triples']}, "
            f"gold {summary['gold_triples']}</p>")


def _fine_table(fine: dict | None) -> str:
    if not fine:
        return ""
    from visempar.scoring.fine import LABELS

    rows = "".join(f"<tr><td>{html.escape(LABELS[name])}</td><td>{v['precision']:.3f}</td><td>{v['recall']:.3f}</td>"
                   f"<td>{v['f1']:.3f}</td><td>{v['matched']}</td><td>{v['predicted']}</td><td>{v['gold']}</td></tr>"
                   for name, v in fine.items())
    return ("<table class='fine'><thead><tr><th>component</th><th>P</th><th>R</th><th>F1</th><th>matched</th>"
            f"<th>predicted</th><th>gold</th></tr></thead><tbody>{rows}</tbody></table>")


def _histogram(values: Sequence[float], bins: int = 10) -> str:
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins), bins - 1)] += 1
    top = max(counts) or 1
    width, height, bar = 320, 110, 32
    rects = []
    for k, c in enumerate(counts):
        h = round(80 * c / top)
        rects.append(f'<rect x="{k * bar}" y="{95 - h}" width="{bar - 2}" height="{h}" fill="#56B4E9">'
                     f'<title>F1 {k / bins:.1f}-{(k + 1) / bins:.1f}: {c} sentences</title></rect>'
                     f'<text x="{k * bar + bar / 2 - 1}" y="{92 - h}" font-size="9" text-anchor="middle">{c}</text>')
    return (f'<svg class="histogram" width="{width}" height="{height}" role="img" '
            f'aria-label="sentence F1 histogram">{"".join(rects)}'
            f'<text x="0" y="108" font-size="9">F1 0</text><text x="{width - 30}" y="108" font-size="9">1</text></svg>')


def _legend() -> str:
    items = []
    for status in (MATCHED, PREDICTION, GOLD):
        colour, style, words = LOOKS[status]
        dash = {"solid": "", "dashed": ' stroke-dasharray="6,3"', "dotted": ' stroke-dasharray="1,3"'}[style]
        items.append(f'<span><svg width="34" height="10"><line x1="0" y1="5" x2="34" y2="5" stroke="{colour}" '
                     f'stroke-width="2"{dash}/></svg> {html.escape(words)}</span>')
    return "<p class='legend'>" + " ".join(items) + " &middot; double border: the root</p>"


def drawing_check() -> None:
    """Fail early, before any scoring, when graphs cannot be drawn here."""
    render_svg("digraph { a }")


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1em; margin: 0.2em 0; }
.corpus { font-size: 1.05em; } .n { color: #888; }
table.fine { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
table.fine td, table.fine th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
table.fine td:first-child { text-align: left; }
.top { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
.controls { margin: 1em 0; position: sticky; top: 0; background: #fff; padding: 0.5em 0; border-bottom: 1px solid #ddd; }
.pair { border-top: 1px solid #ddd; padding: 0.6em 0; }
.graphs { display: flex; gap: 1.5em; flex-wrap: wrap; }
figure { margin: 0; } figcaption { font-size: 0.8em; color: #666; }
.score { margin: 0.2em 0; font-size: 0.9em; }
pre { white-space: pre-wrap; font-size: 0.8em; background: #f6f6f6; padding: 0.4em; }
.legend span { margin-right: 1.2em; } .none { color: #D55E00; }
"""

_SCRIPT = """
(function () {
  var list = document.getElementById('pairs');
  var pairs = Array.prototype.slice.call(list.querySelectorAll('section.pair'));
  function apply() {
    var key = document.getElementById('sort').value, text = document.getElementById('filter').value.toLowerCase();
    var sorted = pairs.slice().sort(function (a, b) {
      if (key === 'f1-asc') return a.dataset.f1 - b.dataset.f1 || a.dataset.index - b.dataset.index;
      if (key === 'f1-desc') return b.dataset.f1 - a.dataset.f1 || a.dataset.index - b.dataset.index;
      if (key === 'length') return a.dataset.length - b.dataset.length || a.dataset.index - b.dataset.index;
      return a.dataset.index - b.dataset.index;
    });
    var shown = 0;
    sorted.forEach(function (p) {
      var keep = !text || p.dataset.text.indexOf(text) >= 0;
      p.style.display = keep ? '' : 'none';
      shown += keep ? 1 : 0;
      list.appendChild(p);
    });
    document.getElementById('shown').textContent = shown + ' of ' + pairs.length + ' shown';
  }
  document.getElementById('sort').addEventListener('change', apply);
  document.getElementById('filter').addEventListener('input', apply);
  apply();
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta name="generator" content="visempar"><style>{style}</style></head>
<body>
<h1>{title}</h1>
{head}
<div class="top">{fine}<figure><figcaption>sentences by F1</figcaption>{histogram}</figure></div>
{legend}
<div class="controls">sort <select id="sort"><option value="index">by index</option>
<option value="f1-asc">by F1, lowest first</option><option value="f1-desc">by F1, highest first</option>
<option value="length">by sentence length</option></select>
filter <input id="filter" type="search" size="32" placeholder="words of the sentence or graphs">
<span id="shown"></span></div>
<div id="pairs">
{rows}
</div>
<script type="application/json" id="visempar-data">{data}</script>
<script>{script}</script>
</body></html>
"""


def write_page(path, pred_path, gold_texts: Sequence[str], report, title: str, *,
               run_rows: Sequence[dict] | None = None, seed: int = 0, restarts: int = 4) -> None:
    """The report page of a scored prediction file (`report`: its `SmatchReport`, scored
    with `fine` for the components), written atomically to `path`. `gold_texts` are the
    gold graphs as their file writes them; `run_rows` what a run recorded per sentence."""
    from visempar.amr.io import read_blocks
    from visempar.reports import write_atomic

    preds = read_blocks(pred_path)
    pairs = [Pair(row, p.sentence or "", p.graph_text, gold, (run_rows[i] if run_rows else {}))
             for i, (row, p, gold) in enumerate(zip(report.per_sentence, preds, gold_texts))]
    summary = {"precision": report.precision, "recall": report.recall, "f1": report.f1,
               "f1_ci95": report.f1_ci95, "matched": report.matched,
               "predicted_triples": report.predicted_triples, "gold_triples": report.gold_triples}
    write_atomic(path, page(pairs, summary, report.fine, title, seed=seed, restarts=restarts))
