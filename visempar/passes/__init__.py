"""The passes after decoding: they read the sentence and mend the graph a model wrote.

One module per pass, named by its config key (`copy_words`, `surplus_words`,
`missing_words`, `names`, `negation`), one contract (`run(sentence, graph, fitted) ->
(graph, changes)`, the sentence split once by `visempar.data.words.Words`) and one table
(`registry.PASSES`), from which everything that names a pass is derived. They need no
retraining: `predict --set`, `load_parser(run, passes=...)` and `repair --passes` choose
them for any output.
"""

from visempar.passes.registry import (KEYS, NO_PASSES, OFF, PASSES, Pass, PassError, Passes, check_value,
                                      run_passes)
from visempar.data.words import Words

__all__ = ["KEYS", "NO_PASSES", "OFF", "PASSES", "Pass", "PassError", "Passes", "Words", "check_value",
           "run_passes"]
