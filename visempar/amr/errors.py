"""Errors of the graph layer; every one says where (file, line, column) and what."""

from __future__ import annotations

from visempar.errors import VisemparError


class AMRError(VisemparError):
    """Base class of every error raised while reading or writing graphs."""


class AMRSyntaxError(AMRError):
    """A graph or block that cannot be read, located by path, line and column."""

    def __init__(self, reason: str, path: str | None = None, line: int | None = None,
                 column: int | None = None):
        self.reason = reason
        self.path = path
        self.line = line
        self.column = column
        super().__init__(str(self))

    def located(self, path: str | None = None, line_offset: int = 0) -> AMRSyntaxError:
        """The same error placed in a file, its line shifted by where the block starts."""
        line = None if self.line is None else self.line + line_offset
        return AMRSyntaxError(self.reason, path or self.path, line, self.column)

    def __str__(self) -> str:
        where = [str(p) for p in (self.path, self.line, self.column) if p is not None]
        return f"{':'.join(where)}: {self.reason}" if where else self.reason


class CorpusError(AMRError):
    """A corpus file that cannot be used as a whole (missing, empty, unreadable)."""
