"""DeckError: a user mistake in a deck, reported as `file:line: key.path: message`."""
from __future__ import annotations


class DeckError(ValueError):
    """A user mistake in a deck (or on the command line that names one). `str()` is one line per
    problem: `file:line: key.path: message`."""

    def __init__(self, message, key=None, file=None, line=None, problems=None):
        self.key, self.file, self.line, self.message = key, file, line, message
        self.problems = problems or [self]
        super().__init__(str(self) if problems is None else "\n".join(_fmt(p) for p in problems))

    def __str__(self):
        if len(self.problems) > 1 or self.problems[0] is not self:
            return "\n".join(_fmt(p) for p in self.problems)
        return _fmt(self)


def _fmt(p: DeckError) -> str:
    where = ""
    if p.file:
        where = f"{p.file}" + (f":{p.line}" if p.line else "") + ": "
    key = f"{p.key}: " if p.key else ""
    return f"{where}{key}{p.message}"

