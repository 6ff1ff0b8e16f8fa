"""Regular expressions compiled on first use, so importing the parser stays cheap for workers that never parse.

The grammar has a few dozen large patterns (~45 ms to compile). :func:`rx` declares one matched on
word boundaries of a space-separated word list; :func:`compile_all` (called by ``parser.warm_up``)
compiles them all ahead of the first caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_DECLARED: list["LazyPattern"] = []


class LazyPattern:
    """A ``re.Pattern`` stand-in that compiles its source the first time it is used."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str):
        self.source = source
        self._compiled: re.Pattern[str] | None = None
        _DECLARED.append(self)

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def match(self, text: str) -> re.Match[str] | None:
        return self.compiled.match(text)

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return self.compiled.fullmatch(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)


def rx(pattern: str) -> LazyPattern:
    """A pattern that matches whole words only (words are separated by single spaces)."""
    return LazyPattern(r"(?<!\S)(?:" + pattern + r")(?!\S)")


def lazy(pattern: str) -> LazyPattern:
    """A pattern used as written, compiled on first use."""
    return LazyPattern(pattern)


def compile_all() -> int:
    """Compile every declared pattern now; returns how many there are."""
    for pattern in _DECLARED:
        pattern.compiled  # noqa: B018 - compiling is the point
    return len(_DECLARED)
