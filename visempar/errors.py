"""The one base class of expected failures, at the bottom of the package.

A `VisemparError` is a problem with what the user gave (a file, a config, a model name, a
run directory), and its message names the file, line and problem. The CLI prints it as
one `Error: ...` line with exit code 1 (`visempar.cli`); anything else is a bug and keeps
its traceback.
"""


class VisemparError(Exception):
    """An expected failure whose message says where and what."""
