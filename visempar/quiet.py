"""Third-party messages known to be harmless here, kept off the terminal.

Each filter names one exact message, so anything new still shows:
- bitsandbytes, at import on CPUs with AVX512-BF16, says it failed to load an optional CPU
  4-bit kernel from the hub; visempar turns that packed kernel off (`model.build`).
- transformers 5 warns that `is_gradient_checkpointing` is deprecated, from inside its own
  code (the builder uses the new activation-checkpointing API).
- transformers draws a "Loading weights" bar for every model load, and one for GGUF
  de-quantisation.
"""

from __future__ import annotations

import logging
import warnings


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()


def silence_known_noise() -> None:
    """Install the filters; cheap (no third-party import), so the CLI calls it first."""
    import os
    import sys

    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_DropMessage("gemm_4bit_forward"))
    warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated",
                            category=FutureWarning)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read when transformers loads
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
