"""The one prompt builder, for training and inference alike (failure mode D3).

`baseline`: sentence -> graph, written in PENMAN (`graph_format: penman`) or without
variables (`visempar.amr.variables`: about a fifth fewer tokens; repair turns it back into
a full graph), a node mentioned again written as a `*N` marker (`varfree`) or as its
concept where that names it alone (`varfree-concepts`). `mtup` (multi-task unified
prompt): sentence -> task 1, the graph without variables, then task 2, the full graph, in
one completion. Both tasks sit on their own lines after a marker line, so both are
extractable from a generation even when one of them is broken.

A prompt always ends on a newline, a token boundary, so the tokens the model is trained
after are exactly the tokens it generates after. `prompt_style: chat` renders the
instruction as the system message and the sentence as the user message through the
tokenizer's chat template (plain text without one); `short` is the sentence and one marker
line, no template and no instruction: a fine-tuned model needs neither, and they cost over
a third of a short example's tokens. A template's thinking switch (Qwen3's
`enable_thinking`) is passed here and only here, so training and inference render alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import penman

from visempar.amr.format import format_graph
from visempar.amr.variables import strip_variables

Variant = Literal["baseline", "mtup"]
VARIANTS: tuple[str, ...] = ("baseline", "mtup")
InputNormalization = Literal["none", "spaces", "lower"]
GraphFormat = Literal["penman", "varfree", "varfree-concepts"]
GRAPH_FORMATS: tuple[str, ...] = ("penman", "varfree", "varfree-concepts")
REFERENCES = {"varfree": "markers", "varfree-concepts": "concepts"}  # how each variable-free format refers
PromptStyle = Literal["chat", "short"]
PROMPT_STYLES: tuple[str, ...] = ("chat", "short")

INSTRUCTIONS = {
    "baseline": "Phân tích câu tiếng Việt sau thành đồ thị AMR theo ký pháp PENMAN.",
    "varfree": "Phân tích câu tiếng Việt sau thành đồ thị AMR không có biến.",
    "mtup": ("Phân tích câu tiếng Việt sau thành đồ thị AMR. Nhiệm vụ 1: đồ thị không có biến. "
             "Nhiệm vụ 2: đồ thị đầy đủ theo ký pháp PENMAN."),
}
TASK1 = "Nhiệm vụ 1:"
TASK2 = "Nhiệm vụ 2:"
_TASK2_LINE = re.compile(rf"^{re.escape(TASK2)}\s*$", re.M)
_TASK1_LINE = re.compile(rf"^{re.escape(TASK1)}\s*$", re.M)


def plain_text(sentence: str) -> str:
    """A sentence in its one normal form: NFC, one line, single spaces, and no invisible
    format characters (zero-width spaces and joiners, a byte-order mark, soft hyphens:
    text pasted from the web carries them, and they change the tokens, not the words).
    Prompts, sentence matching, splits and the passes after decoding all read this form."""
    text = unicodedata.normalize("NFC", sentence)
    if not text.isascii():
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return " ".join(text.split())


def normalize_sentence(sentence: str, mode: InputNormalization = "spaces") -> str:
    """Bring a test input to the training spelling: `plain_text`; `spaces` also turns the
    word-segmentation `_` of the private test into spaces, `lower` also lower-cases."""
    text = plain_text(sentence)
    if mode in ("spaces", "lower"):
        text = " ".join(text.replace("_", " ").split())
    if mode == "lower":
        text = text.lower()
    return text


@dataclass(frozen=True)
class Segments:
    """A completion cut into the parts whose losses are logged separately."""

    task1: str
    task2: str


@dataclass(frozen=True)
class Generation:
    """What a completion holds, per task; None where a task's text is absent."""

    task1: str | None
    task2: str | None
    raw: str


class PromptBuilder:
    """Renders prompts and completions for one variant and one tokenizer."""

    def __init__(self, variant: Variant, tokenizer=None, graph_style: str = "oneline",
                 normalization: InputNormalization = "spaces", *, graph_format: GraphFormat = "penman",
                 prompt_style: PromptStyle = "chat", enable_thinking: bool | None = None):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        if graph_format not in GRAPH_FORMATS:
            raise ValueError(f"unknown graph_format {graph_format!r}; choose one of {', '.join(GRAPH_FORMATS)}")
        if prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt_style {prompt_style!r}; choose one of {', '.join(PROMPT_STYLES)}")
        self.variant = variant
        self.graph_style = graph_style
        self.normalization = normalization
        self.graph_format = graph_format if variant == "baseline" else "penman"
        self.prompt_style = prompt_style
        self.enable_thinking = enable_thinking
        self.chat_template = getattr(tokenizer, "chat_template", None) if tokenizer else None
        self._tokenizer = tokenizer

    @classmethod
    def for_config(cls, config, tokenizer=None) -> PromptBuilder:
        """The builder a run config describes: training and inference both build it here."""
        return cls(config.variant, tokenizer, config.graph_style, config.input_normalization,
                   graph_format=config.graph_format, prompt_style=config.prompt_style,
                   enable_thinking=config.enable_thinking)

    @property
    def templated(self) -> bool:
        """Whether prompts come from the tokenizer's chat template (which brings its own
        special tokens)."""
        return bool(self.chat_template) and self.prompt_style == "chat"

    @property
    def variables(self) -> bool:
        """Whether the final graph of a completion is written with variables."""
        return self.graph_format == "penman"

    @property
    def references(self) -> str | None:
        """How a variable-free completion refers to a node again (`markers` or `concepts`,
        `visempar.amr.variables`); None for PENMAN."""
        return REFERENCES.get(self.graph_format)

    def prompt(self, sentence: str) -> str:
        """The prompt for `sentence`, normalised here for training and inference alike."""
        sentence = normalize_sentence(sentence, self.normalization)
        if self.prompt_style == "short":
            return f"{sentence}\nAMR:\n"
        if self.templated:
            text = self._template(self._messages(sentence), add_generation_prompt=True)
            return text if text.endswith("\n") else text + "\n"
        return f"{self._instruction()}\nCâu: {sentence}\nAMR:\n"

    def conversation(self, sentence: str, completion: str) -> str | None:
        """The chat template's own rendering of the example as a finished conversation, the
        completion as the assistant's turn (None without a template). A template that
        renders that turn's start differently from the generation prompt (Qwen3's thinking
        block, with `enable_thinking` unset) means the base model knows another context
        than the one visempar trains and parses in: preflight's `data.prompt` compares them."""
        if not self.templated:
            return None
        messages = self._messages(normalize_sentence(sentence, self.normalization))
        return self._template(messages + [{"role": "assistant", "content": completion}],
                              add_generation_prompt=False)

    def _instruction(self) -> str:
        return INSTRUCTIONS["varfree" if self.graph_format in REFERENCES else self.variant]

    def _messages(self, sentence: str) -> list[dict]:
        return [{"role": "system", "content": self._instruction()}, {"role": "user", "content": sentence}]

    def _template(self, messages: list[dict], *, add_generation_prompt: bool) -> str:
        extra = {} if self.enable_thinking is None else {"enable_thinking": self.enable_thinking}
        return self._tokenizer.apply_chat_template(messages, tokenize=False,
                                                   add_generation_prompt=add_generation_prompt, **extra)

    def segments(self, graph: penman.Graph) -> Segments:
        """The completion's parts; for `baseline` task 1 is empty."""
        if self.variant == "baseline":
            if self.graph_format in REFERENCES:
                return Segments("", strip_variables(graph, self.graph_style, REFERENCES[self.graph_format]) + "\n")
            return Segments("", format_graph(graph, self.graph_style) + "\n")
        full = format_graph(graph, self.graph_style) + "\n"
        stripped = strip_variables(graph, self.graph_style)
        return Segments(f"{TASK1}\n{stripped}\n", f"{TASK2}\n{full}")

    def completion(self, graph: penman.Graph) -> str:
        parts = self.segments(graph)
        return parts.task1 + parts.task2

    def parse(self, generated: str) -> Generation:
        """Split a generated completion into its tasks (text only; repair comes later)."""
        if self.variant == "baseline":
            return Generation(None, generated.strip() or None, generated)
        second = _TASK2_LINE.search(generated)
        head, task2 = (generated[:second.start()], generated[second.end():]) if second else (generated, None)
        first = _TASK1_LINE.search(head)
        task1 = head[first.end():] if first else (head if second else None)
        clean = lambda s: (s.strip() or None) if s is not None else None  # noqa: E731
        return Generation(clean(task1), clean(task2), generated)
