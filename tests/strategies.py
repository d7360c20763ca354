"""Hypothesis strategies for random AMR trees in the VLSP dialect."""

from hypothesis import strategies as st
from penman.tree import Tree

LETTERS = "abcdđeghiklmnoôơpqrstuưvxyàáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡ"
word = st.text(alphabet=LETTERS, min_size=1, max_size=6)
concept = st.one_of(
    st.lists(word, min_size=1, max_size=3).map(" ".join),
    st.lists(word, min_size=2, max_size=3).map("_".join),
    st.sampled_from(["amr-unknown", "contrast-01", "date-entity", "multi-sentence", "-"]),
)
role = st.sampled_from([":agent", ":theme", ":mod", ":domain", ":ARG1", ":op1",
                        ":agent-of", ":part-of", ":consist-of", ":polite+", ":quant"])
constant = st.one_of(
    st.sampled_from(["-", "+", "interrogative", "expressive", "an.hus@gmail.com", "10:32"]),
    st.integers(0, 3000).map(str),
    st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
)


@st.composite
def trees(draw, max_nodes: int = 12) -> Tree:
    """A tree with unique `xN` variables, constants that are never variables, and
    re-entrancies to nodes already created (so every reference is defined)."""
    n_nodes = draw(st.integers(1, max_nodes))
    variables: list[str] = []

    def node(budget: int):
        var = f"x{len(variables)}"
        variables.append(var)
        branches = [("/", draw(concept))]
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["node", "const", "ref"]))
            r = draw(role)
            if kind == "node" and len(variables) < budget:
                branches.append((r, node(budget)))
            elif kind == "ref":
                branches.append((r, draw(st.sampled_from(variables))))
            else:
                branches.append((r, draw(constant)))
        return (var, branches)

    return Tree(node(n_nodes))
