"""The documentation holds together: the failure-mode catalogue covers every code the code
and tests cite, the tests it names exist, and the README's links lead somewhere."""

import ast
import re

from tests.conftest import ROOT

CATALOGUE = ROOT / "docs" / "failure-modes.md"
CODE = re.compile(r"\b([A-D][1-9])\b")


def catalogue_rows() -> dict[str, str]:
    rows = {}
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| ([A-D][1-9]) \|", line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} has two rows"
            rows[m.group(1)] = line
    return rows


def test_every_cited_failure_code_has_a_row():
    cited = {}
    for folder in ("visempar", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for code in CODE.findall(path.read_text(encoding="utf-8")):
                cited.setdefault(code, path.relative_to(ROOT))
    rows = catalogue_rows()
    assert len(cited) >= 15  # the search finds the citations
    assert {c: str(p) for c, p in cited.items() if c not in rows} == {}


def test_every_row_names_tests_that_exist():
    defined = {}
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined[path.name] = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for code, row in catalogue_rows().items():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 5 and all(cells), f"{code}: symptom, cause, what is done, proved by"
        named = re.findall(r"`(test_\w+\.py)(?:::(\w+))?`", cells[4])
        assert named, f"{code} names no test"
        for file, function in named:
            assert file in defined, f"{code}: {file} does not exist"
            assert not function or function in defined[file], f"{code}: {file}::{function} does not exist"


def test_the_readme_is_a_map_whose_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)
    assert any(link.startswith("docs/") for link in links)
    assert [link for link in links if not (ROOT / link).exists()] == []
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
        assert [t for t in targets if not (page.parent / t).exists()] == [], page.name
