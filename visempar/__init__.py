"""visempar: Vietnamese AMR parsing with LoRA fine-tuning that cannot silently fail.

The Python API (`visempar.api`) loads on first use, so that `import visempar` and the
command line stay free of torch:

    from visempar import draw, load_parser, score
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.3.0"
__all__ = ["Parser", "ParseResult", "__version__", "draw", "load_parser", "score"]

if TYPE_CHECKING:
    from visempar.api import Parser, ParseResult, draw, load_parser, score


def __getattr__(name: str):
    if name in ("Parser", "ParseResult", "draw", "load_parser", "score"):
        from visempar import api

        return getattr(api, name)
    raise AttributeError(f"module 'visempar' has no attribute {name!r}")
