"""The one prompt builder (failure mode D3): graph formats, prompt styles, chat templates
with a thinking switch, and the way back from a completion to the graph."""

import pytest

import visempar
from visempar.amr import read_corpus
from visempar.amr.format import format_graph
from visempar.amr.variables import strip_variables
from visempar.config import ConfigError, from_mapping
from visempar.data.corpus import sample_path
from visempar.data.encode import encode_example, prompt_ids
from visempar.data.prompts import INSTRUCTIONS, PromptBuilder
from visempar.infer.graphs import to_graph_result

# A template shaped like Qwen3's: the thinking switch changes what the assistant turn starts with.
THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}")


@pytest.fixture(scope="module")
def tok(tiny_model):
    from visempar.model.build import load_tokenizer

    return load_tokenizer(tiny_model)


@pytest.fixture(scope="module")
def graphs():
    return [e.graph for e in read_corpus(sample_path("train")).examples]


def test_varfree_completions_are_the_graph_without_variables_and_read_back_whole(graphs):
    builder = PromptBuilder("baseline", graph_format="varfree")
    assert builder.completion(graphs[0]) == strip_variables(graphs[0]) + "\n"
    assert " / " not in builder.completion(graphs[0])
    back = [to_graph_result(builder, builder.completion(g)) for g in graphs]
    assert {r.path for r in back} == {"direct"}
    # nothing but variable names is lost: every graph scores 1 against its source
    per_graph = visempar.score([r.graph for r in back], graphs)
    assert per_graph.f1 == 1.0 and per_graph.invalid == 0
    penman_builder = PromptBuilder("baseline")
    assert penman_builder.completion(graphs[0]) == format_graph(graphs[0], "oneline") + "\n"


def test_concept_references_read_back_whole_and_name_their_nodes(graphs):
    builder = PromptBuilder("baseline", graph_format="varfree-concepts")
    assert builder.references == "concepts"
    back = [to_graph_result(builder, builder.completion(g)) for g in graphs]
    assert {r.path for r in back} == {"direct"}
    assert visempar.score([r.graph for r in back], graphs).f1 == 1.0
    # a model's reference by concept is an edge to the node, not a constant
    direct = to_graph_result(builder, "(muốn :pivot (em) :theme (giúp :agent em))")
    assert direct.path == "direct" and len(direct.graph.edges(role=":agent")) == 1
    assert not direct.graph.attributes(role=":agent")
    # two nodes have the concept: the strict reading refuses, repair takes the nearest before
    two = to_graph_result(builder, "(nói :agent (em) :topic (thấy :theme (em) :agent em))")
    assert two.path == "repaired" and "restored-reference" in two.repairs
    thay = next(t.source for t in two.graph.instances() if t.target == "thấy")
    target = next(e.target for e in two.graph.edges(source=thay, role=":agent"))
    assert target == next(e.target for e in two.graph.edges(source=thay, role=":theme"))


def test_varfree_is_shorter_and_mtup_keeps_its_two_tasks(tok, graphs):
    varfree = PromptBuilder("baseline", tok, graph_format="varfree")
    full = PromptBuilder("baseline", tok)
    count = lambda b: sum(len(tok(b.completion(g))["input_ids"]) for g in graphs)  # noqa: E731
    assert count(varfree) < 0.9 * count(full)
    mtup = PromptBuilder("mtup", tok, graph_format="varfree")
    assert mtup.graph_format == "penman" and mtup.completion(graphs[0]) == PromptBuilder("mtup", tok).completion(graphs[0])


def test_the_short_prompt_is_the_sentence_and_a_marker_line(tok):
    short = PromptBuilder("baseline", tok, prompt_style="short")
    assert short.prompt("Tôi  đi_học") == "Tôi đi học\nAMR:\n"
    chat = PromptBuilder("baseline", tok)
    assert INSTRUCTIONS["baseline"] in chat.prompt("Tôi đi học")
    assert len(prompt_ids(tok, short, "Tôi đi học")) < len(prompt_ids(tok, chat, "Tôi đi học"))


def test_a_thinking_template_renders_one_way_for_training_and_inference(tok, graphs):
    tok = tok.__class__.from_pretrained(tok.name_or_path)
    tok.chat_template = THINKING_TEMPLATE
    example = read_corpus(sample_path("train")).examples[0]
    for thinking, block in ((False, True), (True, False), (None, False)):
        builder = PromptBuilder("baseline", tok, enable_thinking=thinking)
        prompt = builder.prompt(example.sentence)
        assert prompt.endswith("\n") and ("<think>\n\n</think>" in prompt) == block
        row = encode_example(tok, builder, example, 0)
        inferred = prompt_ids(tok, builder, example.sentence)
        assert row["input_ids"][:len(inferred)] == inferred and row["segment"][:len(inferred)] == [0] * len(inferred)
        assert row["segment"][len(inferred)] != 0  # the completion starts right after the prompt


def test_the_config_carries_the_prompt_settings_and_refuses_unknown_ones():
    config = from_mapping({"graph_format": "varfree", "prompt_style": "short", "enable_thinking": "false"})
    builder = PromptBuilder.for_config(config)
    assert (builder.graph_format, builder.prompt_style, builder.enable_thinking) == ("varfree", "short", False)
    assert from_mapping({}).enable_thinking is None
    with pytest.raises(ConfigError, match="graph_format must be one of penman, varfree, varfree-concepts, got 'amr'"):
        from_mapping({"graph_format": "amr"})
    with pytest.raises(ConfigError, match="enable_thinking must be true, false or null"):
        from_mapping({"enable_thinking": "maybe"})


def test_invisible_characters_do_not_change_the_prompt():
    """Text pasted from the web carries zero-width spaces and joiners, a byte-order mark, soft
    hyphens; NFD is how macOS writes Vietnamese. The prompt, the sentence key that matches
    files, and the words the passes read are those of the plain sentence."""
    import unicodedata

    from visempar.data.corpus import sentence_key
    from visempar.data.prompts import plain_text

    plain = "tôi muốn đi học ."
    noisy = "\ufefftôi\u200b muốn\u00ad đi\u200d học\u2060 ."
    for text in (noisy, unicodedata.normalize("NFD", plain), "  tôi muốn\n đi học . "):
        assert plain_text(text) == plain
        assert PromptBuilder("baseline", prompt_style="short").prompt(text) == f"{plain}\nAMR:\n"
        assert sentence_key(text) == sentence_key(plain)
