"""Tokens of the OData expression language used by ``$filter`` and ``$orderby``.

Every token keeps its position in the text, so that an error can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quartier.errors import BadRequest

# Token kinds
NAME = "name"  # identifiers, operators (eq, and, …) and function names (geo.distance)
STRING = "string"
NUMBER = "number"
DATETIME = "datetime"
DATE = "date"
TIME_OF_DAY = "time"
INTERVAL = "interval"
DURATION = "duration"
GEOMETRY = "geometry"
PUNCT = "punct"  # ( ) , / -
END = "end"

_OFFSET = r"(?:Z|[+\- ]\d{2}:\d{2})"  # a '+' from an unencoded URL arrives as a space
_DATETIME = rf"\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d{{1,9}})?)?{_OFFSET}"
_PATTERNS = [
    (INTERVAL, rf"{_DATETIME}/{_DATETIME}"),
    (DATETIME, _DATETIME),
    (DATE, r"\d{4}-\d{2}-\d{2}(?![\dT])"),
    (TIME_OF_DAY, r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?![\d:])"),
    (DURATION, r"duration'[^']*'"),
    (GEOMETRY, r"geography'[^']*'|geometry'[^']*'"),
    (NUMBER, r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[dDfFmMlL](?![A-Za-z0-9_]))?"),
    (NAME, r"[A-Za-z_@$][A-Za-z0-9_.@$]*"),
    (PUNCT, r"[(),/-]"),
]
_TOKEN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _PATTERNS))
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int  # 0-based offset in the expression

    def is_name(self, *words: str) -> bool:
        return self.kind == NAME and self.text.lower() in words

    def is_punct(self, char: str) -> bool:
        return self.kind == PUNCT and self.text == char


def syntax_error(option: str, pos: int, message: str) -> BadRequest:
    return BadRequest(f"{option}: {message} at position {pos + 1}")


def tokenize(text: str, option: str = "$filter") -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        if text[pos] == "'":
            end, value = _string(text, pos, option)
            tokens.append(Token(STRING, value, pos))
            pos = end
            continue
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise syntax_error(option, pos, f"unexpected character {text[pos]!r}")
        tokens.append(Token(match.lastgroup, match.group(), pos))
        pos = match.end()
    tokens.append(Token(END, "", len(text)))
    return tokens


def _string(text: str, start: int, option: str) -> tuple[int, str]:
    """A single-quoted string; two quotes stand for one."""
    out = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "'":
            if text.startswith("''", pos):
                out.append("'")
                pos += 2
                continue
            return pos + 1, "".join(out)
        out.append(char)
        pos += 1
    raise syntax_error(option, start, "this string has no closing quote")
