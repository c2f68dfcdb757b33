"""The expression tree of ``$filter`` and ``$orderby``, and the parser that builds it.

Precedence, loosest first: ``or``, ``and``, ``not``, comparisons (``eq ne gt ge lt le
in``), ``add sub``, ``mul div mod``, unary minus, then literals, paths, calls and
parentheses. Literals are checked here (times, durations, WKT), so a bad one is a 400
that names its position before any SQL is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import ciso8601
import shapely
import shapely.wkt
from shapely.geometry.base import BaseGeometry

from quartier.errors import BadRequest
from quartier.model.times import parse_instant
from quartier.query import lexer
from quartier.query.lexer import Token, syntax_error, tokenize

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ADDITIVE = ("add", "sub")
MULTIPLICATIVE = ("mul", "div", "mod")
_MAX_DEPTH = 64  # guards the parser's own recursion
MAX_TREE_DEPTH = 24  # nesting the databases evaluate safely (SQLite's parser stack is small)
DEFAULT_MAX_NODES = 500  # nodes of one expression (the setting max_filter_nodes)


@dataclass(frozen=True)
class Literal:
    value: Any
    type: str  # number, string, bool, null, time, interval, date, timeofday, duration, geometry
    pos: int


@dataclass(frozen=True)
class Path:
    segments: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return "/".join(self.segments)


@dataclass(frozen=True)
class Call:
    name: str  # lower case
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # not, neg
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class ListOf:
    items: tuple[Node, ...]
    pos: int


Node = Literal | Path | Call | Unary | Binary | ListOf


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration: whole months and microseconds (months count 30 days when compared)."""

    months: int
    micros: int
    text: str

    @property
    def approx_micros(self) -> int:
        return self.months * 30 * 86_400_000_000 + self.micros


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class Parser:
    def __init__(self, text: str, option: str) -> None:
        self.option = option
        self.tokens = tokenize(text, option)
        self.index = 0
        self.depth = 0

    # -- helpers ----------------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != lexer.END:
            self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> BadRequest:
        return syntax_error(self.option, (token or self.token).pos, message)

    def expect_punct(self, char: str) -> Token:
        if not self.token.is_punct(char):
            found = self.token.text or "the end"
            raise self.error(f"expected {char!r} but found {found!r}")
        return self.advance()

    def at_end(self) -> bool:
        return self.token.kind == lexer.END

    # -- grammar ----------------------------------------------------------------------

    def expression(self) -> Node:
        self._deeper()
        try:
            return self._or()
        finally:
            self.depth -= 1

    def _or(self) -> Node:
        node = self._and()
        while self.token.is_name("or"):
            pos = self.advance().pos
            node = Binary("or", node, self._and(), pos)
        return node

    def _and(self) -> Node:
        node = self._not()
        while self.token.is_name("and"):
            pos = self.advance().pos
            node = Binary("and", node, self._not(), pos)
        return node

    def _not(self) -> Node:
        if self.token.is_name("not"):
            pos = self.advance().pos
            self._deeper()
            node = Unary("not", self._not(), pos)
            self.depth -= 1
            return node
        return self._comparison()

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"the expression nests more than {_MAX_DEPTH} levels deep")

    def _comparison(self) -> Node:
        node = self._additive()
        if self.token.is_name(*COMPARISONS):
            token = self.advance()
            node = Binary(token.text.lower(), node, self._additive(), token.pos)
        elif self.token.is_name("in"):
            token = self.advance()
            node = Binary("in", node, self._list(), token.pos)
        if self.token.is_name(*COMPARISONS, "in"):
            raise self.error("comparisons cannot be chained; join them with 'and' or 'or'")
        return node

    def _list(self) -> ListOf:
        start = self.expect_punct("(")
        items = [self._additive()]
        while self.token.is_punct(","):
            self.advance()
            items.append(self._additive())
        self.expect_punct(")")
        return ListOf(tuple(items), start.pos)

    def _additive(self) -> Node:
        node = self._multiplicative()
        while self.token.is_name(*ADDITIVE):
            token = self.advance()
            node = Binary(token.text.lower(), node, self._multiplicative(), token.pos)
        return node

    def _multiplicative(self) -> Node:
        node = self._unary()
        while self.token.is_name(*MULTIPLICATIVE):
            token = self.advance()
            node = Binary(token.text.lower(), node, self._unary(), token.pos)
        return node

    def _unary(self) -> Node:
        if self.token.is_punct("-"):
            token = self.advance()
            self._deeper()
            operand = self._unary()
            self.depth -= 1
            if isinstance(operand, Literal) and operand.type == "number":
                return Literal(-operand.value, "number", token.pos)
            if isinstance(operand, Literal) and operand.type == "duration":
                value: Duration = operand.value
                negated = Duration(-value.months, -value.micros, "-" + value.text)
                return Literal(negated, "duration", token.pos)
            return Unary("neg", operand, token.pos)
        return self._primary()

    def _primary(self) -> Node:
        token = self.token
        if token.is_punct("("):
            self.advance()
            node = self.expression()
            self.expect_punct(")")
            return node
        if token.kind == lexer.NAME:
            return self._name()
        if token.kind == lexer.END:
            raise self.error("the expression ends where a value was expected")
        if token.kind == lexer.PUNCT:
            raise self.error(f"expected a value but found {token.text!r}")
        self.advance()
        return literal(token, self.option)

    def _name(self) -> Node:
        token = self.advance()
        word = token.text
        lower = word.lower()
        if lower in ("true", "false"):
            return Literal(lower == "true", "bool", token.pos)
        if lower == "null":
            return Literal(None, "null", token.pos)
        if lower in ("and", "or", "not", *COMPARISONS, *ADDITIVE, *MULTIPLICATIVE, "in"):
            raise self.error(f"the operator {word!r} needs a value before it", token)
        if self.token.is_punct("("):
            return self._call(lower, token)
        segments = [word]
        while self.token.is_punct("/"):
            self.advance()
            part = self.token
            if part.kind != lexer.NAME:
                raise self.error("a path segment must follow '/'")
            segments.append(self.advance().text)
        return Path(tuple(segments), token.pos)

    def _call(self, name: str, token: Token) -> Call:
        self.expect_punct("(")
        args: list[Node] = []
        if not self.token.is_punct(")"):
            args.append(self.expression())
            while self.token.is_punct(","):
                self.advance()
                args.append(self.expression())
        self.expect_punct(")")
        return Call(name, tuple(args), token.pos)


def literal(token: Token, option: str) -> Literal:
    kind, text, pos = token.kind, token.text, token.pos
    try:
        if kind == lexer.STRING:
            return Literal(text, "string", pos)
        if kind == lexer.NUMBER:
            return Literal(_number(text), "number", pos)
        if kind == lexer.DATETIME:
            return Literal(_instant(text), "time", pos)
        if kind == lexer.INTERVAL:
            start_text, _, end_text = text.partition("/")
            start, end = _instant(start_text), _instant(end_text)
            if end < start:
                raise ValueError("the interval ends before it starts")
            return Literal((start, end), "interval", pos)
        if kind == lexer.DATE:
            return Literal(date.fromisoformat(text), "date", pos)
        if kind == lexer.TIME_OF_DAY:
            return Literal(time.fromisoformat(text), "timeofday", pos)
        if kind == lexer.DURATION:
            return Literal(parse_duration(text[len("duration'"):-1]), "duration", pos)
        if kind == lexer.GEOMETRY:
            return Literal(parse_wkt(text[text.index("'") + 1:-1]), "geometry", pos)
    except (ValueError, BadRequest) as exc:
        message = exc.message if isinstance(exc, BadRequest) else str(exc)
        raise syntax_error(option, pos, f"invalid literal {text!r}: {message}") from None
    raise syntax_error(option, pos, f"unexpected {text!r}")


def _number(text: str) -> int | float:
    text = text.rstrip("dDfFmMlL")
    if re.fullmatch(r"\d+", text):
        value = int(text)
        return value if value < 2**63 else float(value)
    value_f = float(text)
    if value_f in (float("inf"), float("-inf")):
        raise ValueError("the number is too large")
    return value_f


def _instant(text: str) -> datetime:
    """The time with the offset it was written with (``totaloffsetminutes`` reads it)."""
    if text[-6] == " ":  # '+01:00' whose '+' an unencoded URL turned into a space
        text = text[:-6] + "+" + text[-5:]
    parse_instant(text, "the time")  # checks it, and that it lies within the years 1 to 9999
    return ciso8601.parse_rfc3339(text)


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text)
    if match is None or text in ("P", "-P") or text.endswith("T"):
        raise ValueError("expected an ISO 8601 duration such as P1D or PT30M")
    part = {k: (v or "0") for k, v in match.groupdict().items() if k != "sign"}
    months = int(part["y"]) * 12 + int(part["mo"])
    days = int(part["w"]) * 7 + int(part["d"])
    micros = round(
        ((days * 24 + int(part["h"])) * 60 + int(part["mi"])) * 60_000_000
        + float(part["s"]) * 1_000_000
    )
    if months > 120_000 or micros > 10_000 * 366 * 86_400_000_000:
        raise ValueError("the duration is longer than 10,000 years")
    sign = -1 if match.group("sign") else 1
    return Duration(sign * months, sign * micros, text)


def parse_wkt(text: str) -> BaseGeometry:
    try:
        geom = shapely.wkt.loads(text)
    except (shapely.errors.ShapelyError, ValueError, TypeError) as exc:
        raise ValueError(f"not valid WKT ({exc})") from None
    if geom.is_empty:
        raise ValueError("the geometry is empty")
    bounds = geom.bounds
    if not all(abs(b) < 1e300 for b in bounds):
        raise ValueError("the coordinates are not finite numbers")
    return geom


def parse_filter(text: str, max_nodes: int = DEFAULT_MAX_NODES) -> Node:
    parser = Parser(text, "$filter")
    if parser.at_end():
        raise parser.error("the filter is empty")
    node = parser.expression()
    if not parser.at_end():
        raise parser.error(f"unexpected {parser.token.text!r} after a complete expression")
    check_tree(node, "$filter", max_nodes)
    return node


def check_tree(root: Node, option: str, max_nodes: int = DEFAULT_MAX_NODES, used: int = 0) -> None:
    """400 when the tree nests deeper than :data:`MAX_TREE_DEPTH` or holds more than
    ``max_nodes`` nodes (what the database has to plan and evaluate per row); a chain of
    ``and`` (or of ``or``) counts as one level, any other operator, call or ``not`` as one
    each."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    seen = used
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > max_nodes:
            raise syntax_error(option, node.pos, f"the expression has more than {max_nodes} "
                                                 "operators, functions, properties and literals; "
                                                 "simplify it")
        if depth > MAX_TREE_DEPTH:
            raise syntax_error(option, node.pos, f"the expression nests more than {MAX_TREE_DEPTH} "
                                                 "levels deep here; simplify it")
        for child in _children(node):
            chained = (isinstance(node, Binary) and node.op in ("and", "or")
                       and isinstance(child, Binary) and child.op == node.op)
            stack.append((child, depth if chained else depth + 1))


def parse_orderby(text: str, max_nodes: int = DEFAULT_MAX_NODES) -> list[tuple[Node, bool]]:
    """``expr [asc|desc], …`` as (expression, descending) pairs; ``max_nodes`` bounds all
    the terms together."""
    parser = Parser(text, "$orderby")
    items: list[tuple[Node, bool]] = []
    used = 0  # nodes of the terms before
    while True:
        if parser.at_end() or parser.token.is_punct(","):
            raise parser.error("expected a property or expression to order by")
        node = parser.expression()
        check_tree(node, "$orderby", max_nodes, used)
        used += _size(node)
        descending = False
        if parser.token.is_name("asc", "desc"):
            descending = parser.advance().text.lower() == "desc"
        items.append((node, descending))
        if parser.at_end():
            return items
        parser.expect_punct(",")



def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Call):
        return tuple(node.args)
    if isinstance(node, ListOf):
        return tuple(node.items)
    return ()


def _size(root: Node) -> int:
    """How many nodes the tree holds (after :func:`check_tree` passed, so it is small)."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(_children(node))
    return count
