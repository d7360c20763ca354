"""Graphs drawn by Graphviz, and the evaluation report page, checked in the DOM and in a
real headless Chromium."""

import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from tests.conftest import write
from visempar.cli import main
from visempar.data.corpus import sample_path

GOLD = sample_path("test")


def page_data(html: str) -> list[dict]:
    found = re.search(r'<script type="application/json" id="visempar-data">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """The sample test graphs with roles and concepts changed here and there, one graph
    cut to nothing the reference can read."""
    from visempar.amr.io import read_blocks, submission_block, write_blocks

    out = tmp_path_factory.mktemp("pred") / "pred.txt"
    blocks = []
    for i, b in enumerate(read_blocks(GOLD)):
        text = b.graph_text
        if i % 3 == 0:
            text = text.replace(":agent", ":theme", 1)
        if i == 4:
            text = "không có đồ thị"
        blocks.append(submission_block(b.sentence or "", text))
    write_blocks(out, blocks)
    return out


def test_draw_returns_an_svg_of_the_graph_and_results_show_themselves():
    from visempar import ParseResult, draw
    from visempar.amr import parse_graph

    graph = parse_graph("(h / hiểu :agent (a / anh) :theme (c / chủ trương) :polarity -)")
    svg = draw(graph)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert all(w in svg for w in ("hiểu", "anh", "chủ trương", ":agent", ":polarity"))
    assert draw("(h / hiểu :agent (a / anh) :theme (c / chủ trương) :polarity -)") == svg
    result = ParseResult("anh hiểu", graph, "direct", (), "(h / hiểu ...")
    assert result._repr_svg_() == svg


def test_draw_command_writes_one_block(tmp_path):
    out = tmp_path / "g.svg"
    res = CliRunner().invoke(main, ["draw", str(GOLD), "--index", "2", "--output", str(out)])
    assert res.exit_code == 0, res.output
    from visempar.amr.io import read_blocks

    second = read_blocks(GOLD)[1]
    concept = re.search(r"/ ([^\s()]+)", second.graph_text).group(1)
    assert out.read_text(encoding="utf-8").startswith("<svg") and concept in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["draw", str(GOLD), "--index", "999", "--output", str(tmp_path / "x.svg")])
    assert res.exit_code == 1 and res.output.startswith("Error: --index 999: ") and "holds 25 block(s)" in res.output
    assert not (tmp_path / "x.svg").exists()


def test_the_report_page_draws_every_pair_and_its_data_sums_to_the_json(damaged, tmp_path):
    html_path, json_path = tmp_path / "r.html", tmp_path / "r.json"
    res = CliRunner().invoke(main, ["evaluate", "--predictions", str(damaged), "--gold", str(GOLD),
                                    "--html", str(html_path), "--json", str(json_path)])
    assert res.exit_code == 0, res.output
    html = html_path.read_text(encoding="utf-8")
    data, totals = page_data(html), json.loads(json_path.read_text())
    assert len(data) == 25 == html.count('<section class="pair"')
    for key, total in (("matched", "matched"), ("predicted", "predicted_triples"), ("gold", "gold_triples")):
        assert sum(d[key] for d in data) == totals[total]
    assert [d["f1"] for d in data] == [r["f1"] for r in totals["per_sentence"]]
    assert totals["fine"] is None  # --metric smatch: the page has the components, the report does not
    assert html.count("<svg") >= 2 * 25 - 1 + 1  # 24 readable predictions and 25 gold graphs, plus the histogram
    assert "cannot read this prediction" in html
    # the three looks, told apart by line style: matched (solid), prediction only (dashed), gold only (dotted)
    assert "#009E73" in html and 'stroke-dasharray="5,2"' in html and 'stroke-dasharray="1,5"' in html
    assert not re.search(r'(src|href)="https?:', html)  # nothing to fetch: it opens from file://
    assert "Re-entrancies" in html and "sentences by F1" in html


def test_the_report_of_a_run_shows_the_generation_and_what_changed_it(trained_run, tmp_path):
    html_path = tmp_path / "run.html"
    res = CliRunner().invoke(main, ["evaluate", "--run", str(trained_run), "--out", str(tmp_path / "eval"),
                                    "--html", str(html_path), "--set", "negation=next-word"])
    assert res.exit_code == 0, res.output
    html = html_path.read_text(encoding="utf-8")
    data = page_data(html)
    rows = json.loads((tmp_path / "eval" / "per_sentence.json").read_text())["per_sentence"]
    assert [d["path"] for d in data] == [r["path"] for r in rows]
    assert all("passes" in d and "repairs" in d for d in data)
    assert html.count("raw generation:") == 25 and "passes after decoding:" in html


@pytest.mark.parametrize("option", ["--html", "--json"])
def test_the_page_is_never_written_over_an_input(damaged, option, tmp_path):
    res = CliRunner().invoke(main, ["evaluate", "--predictions", str(damaged), "--gold", str(GOLD),
                                    option, str(damaged)])
    assert res.exit_code == 1 and f"{option} {damaged} is an input of this command" in res.output


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.skip("no Chromium here (scripts/test.sh installs Debian's chromium where it can)")
    return found


def _headless(browser: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: every host name fails
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


def test_the_page_renders_in_a_real_browser(damaged, tmp_path):
    browser = _chromium()
    html_path = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["evaluate", "--predictions", str(damaged), "--gold", str(GOLD),
                                    "--html", str(html_path)])
    assert res.exit_code == 0, res.output
    dom = _headless(browser, tmp_path, "--dump-dom", html_path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    from visempar.amr.io import read_blocks

    sentences = [b.sentence for b in read_blocks(GOLD)]
    assert dom.stdout.count('<section class="pair"') == len(sentences)
    from html import escape

    assert all(escape(s, quote=False) in dom.stdout for s in sentences)
    assert dom.stdout.count("<svg") >= 2 * len(sentences)
    assert f"{len(sentences)} of {len(sentences)} shown" in dom.stdout  # the script ran
    shot = tmp_path / "shot.png"
    taken = _headless(browser, tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", html_path.as_uri())
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.05  # drawn, not a blank page
    green = ((abs(pixels[..., 0] - 0x00 / 255) < 0.1) & (abs(pixels[..., 1] - 0x9E / 255) < 0.1)
             & (abs(pixels[..., 2] - 0x73 / 255) < 0.1))
    assert green.sum() > 200  # the matched look is on screen


def test_a_file_the_user_named_as_the_page_keeps_what_it_held_when_drawing_is_impossible(damaged, tmp_path,
                                                                                         monkeypatch):
    from visempar.report import draw as draw_module

    def broken(dot):
        raise draw_module.DrawError("Graphviz could not draw the graph: no layout")

    monkeypatch.setattr(draw_module, "render_svg", broken)
    monkeypatch.setattr("visempar.report.html.render_svg", broken)
    page = write(tmp_path, "r.html", "kept\n")
    res = CliRunner().invoke(main, ["evaluate", "--predictions", str(damaged), "--gold", str(GOLD),
                                    "--html", str(page)])
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1] == (
        "Error: Graphviz could not draw the graph: no layout")
    assert page.read_text() == "kept\n"
